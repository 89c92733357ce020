// Journey: a customer reads their proxy credentials in Settings, sends traffic through the
// gateway with curl using them, regenerates the password, and the old one stops working.
import { test, expect } from "@playwright/test";
import { execFileSync } from "child_process";
import { snap, watchErrors } from "./helpers";

const HTTP_PROXY = process.env.ATLANTIC_HTTP_PROXY ?? "127.0.0.1:8080";

/** The HTTP status curl gets fetching the run's origin (see global-setup.ts) through the gateway. */
function curlThroughGateway(user: string, password: string, _baseURL: string): string {
  return execFileSync(
    "curl",
    ["-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "5",
     "-x", `http://${user}:${password}@${HTTP_PROXY}`, `${process.env.ORIGIN_URL}/`],
    { encoding: "utf8" },
  ).trim();
}

test("proxy credentials work through the gateway and can be regenerated", async ({ page, baseURL }) => {
  const errors = watchErrors(page);
  await page.goto("/settings");
  const username = (await page.locator("#proxy-username").textContent())!.trim();
  expect(username).toMatch(/^[a-z][a-z0-9]{9}$/);
  const password = page.locator("#proxy-password");
  await expect(password).toHaveText("•".repeat(24));
  await expect(async () => {
    await page.getByRole("button", { name: "Show" }).click();
    await expect(password).not.toHaveText("•".repeat(24), { timeout: 500 });
  }).toPass({ timeout: 20_000 });
  const oldPassword = (await password.textContent())!.trim();
  expect(oldPassword).toHaveLength(24);
  await expect(page.locator("#proxy-http")).toHaveText(HTTP_PROXY);
  await snap(page, "settings-credentials");

  expect(curlThroughGateway(username, oldPassword, baseURL!)).toBe("200");

  await page.getByRole("button", { name: "Regenerate password" }).click();
  await expect(async () => {
    await page.getByRole("button", { name: "Show" }).click({ timeout: 500 });
    const shown = (await password.textContent())!.trim();
    expect(shown).toHaveLength(24);
    expect(shown).not.toBe(oldPassword);
  }).toPass({ timeout: 10_000 });
  const newPassword = (await password.textContent())!.trim();

  await expect.poll(() => curlThroughGateway(username, oldPassword, baseURL!), { timeout: 5_000 }).toBe("407");
  expect(curlThroughGateway(username, newPassword, baseURL!)).toBe("200");
  errors.assertClean();
});
