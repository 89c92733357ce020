// Journey: a new customer registers, gets a plan from the operator, signs in, turns on
// two-factor sign-in (QR code + a code from the app, ten recovery codes shown once), signs
// out, signs in again with a code, regenerates the proxy password and uses it through the
// gateway — the old password is refused.
import { test, expect } from "@playwright/test";
import { execFileSync } from "child_process";
import { snap, watchErrors } from "./helpers";
import { totp } from "./totp";

// A customer of their own, from an address of their own (the service trusts the local
// reverse proxy in this run), so this journey has its own sign-in budget.
test.use({
  storageState: { cookies: [], origins: [] },
  extraHTTPHeaders: { "x-forwarded-for": "198.51.100.42" },
});

const HTTP_PROXY = process.env.ATLANTIC_HTTP_PROXY ?? "127.0.0.1:8080";
const password = "copper-meadow-signal-83";

function curlStatus(user: string, pass: string, _baseURL: string): string {
  return execFileSync(
    "curl",
    ["-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "5",
     "-x", `http://${user}:${pass}@${HTTP_PROXY}`, `${process.env.ORIGIN_URL}/`],
    { encoding: "utf8" },
  ).trim();
}

/** Grants a plan the way an operator does (needs the binary and the database of this run). */
function grantStarter(email: string) {
  const binary = process.env.ATLANTIC_BINARY;
  const databaseUrl = process.env.ATLANTIC_DATABASE_URL;
  if (!binary || !databaseUrl) throw new Error("ATLANTIC_BINARY and ATLANTIC_DATABASE_URL are set by `cargo xtask e2e`");
  execFileSync(binary, ["user", "grant", "--email", email, "--plan", "Starter"], {
    env: { ...process.env, DATABASE_URL: databaseUrl },
  });
}

test("register, 2FA on, sign in with a code, regenerate and use the proxy password", async ({ page, baseURL }) => {
  test.setTimeout(90_000);
  const errors = watchErrors(page);
  const email = `twofa-${Date.now()}@example.com`;

  await page.goto("/register");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Create account" }).click();
  await expect(page).toHaveURL(/\/login\?registered=1$/);
  grantStarter(email);

  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(/\/$/);

  // Enrol: the QR code and the key, then a code from the "app".
  await page.goto("/settings");
  await page.getByRole("button", { name: "Set up two-factor sign-in" }).click();
  await expect(page.getByRole("img", { name: "QR code for your authenticator app" })).toBeVisible();
  await expect(page.locator(".qr svg")).toBeVisible();
  const secret = (await page.locator("#two-factor-secret").textContent())!.trim();
  expect(secret).toMatch(/^[A-Z2-7]{32}$/);
  await snap(page, "two-factor-scan");
  const enrolledAt = Date.now() / 1000;
  await page.getByLabel("Code from the app").fill(totp(secret, enrolledAt));
  await page.getByRole("button", { name: "Turn on" }).click();
  await expect(page.locator("#settings-outcome")).toContainText("Two-factor sign-in is on");
  const codes = page.locator("#recovery-codes li");
  await expect(codes).toHaveCount(10);
  await expect(codes.first()).toHaveText(/^[a-z2-9]{5}-[a-z2-9]{5}$/);
  await snap(page, "two-factor-recovery-codes");
  await page.reload();
  await expect(page.locator("#recovery-codes")).toHaveCount(0);
  await expect(page.locator("#two-factor-on")).toContainText("10 of 10 recovery codes left");

  // Sign out, then in: the password alone is not enough.
  await page.getByRole("button", { name: "Sign out", exact: true }).click();
  await expect(page).toHaveURL(/\/login\?signed_out=1$/);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(/\/login\/code$/);
  await page.getByLabel("Code from your authenticator app").fill("000000");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("alert")).toContainText("That code is not right");
  // The next time step: the one used to enrol is spent (each code works once).
  await page.getByLabel("Code from your authenticator app").fill(totp(secret, enrolledAt + 30));
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(/\/$/);
  await expect(page.locator(".whoami")).toHaveText(email);

  // Regenerate the proxy password and use it through the gateway.
  await page.goto("/settings");
  const username = (await page.locator("#proxy-username").textContent())!.trim();
  const shown = page.locator("#proxy-password");
  await expect(async () => {
    await page.getByRole("button", { name: "Show" }).click({ timeout: 1_000 });
    await expect(shown).not.toHaveText("•".repeat(24), { timeout: 500 });
  }).toPass({ timeout: 20_000 });
  const oldPassword = (await shown.textContent())!.trim();
  await page.getByRole("button", { name: "Regenerate password" }).click();
  await expect(async () => {
    await page.getByRole("button", { name: "Show" }).click({ timeout: 500 });
    const now = (await shown.textContent())!.trim();
    expect(now).toHaveLength(24);
    expect(now).not.toBe(oldPassword);
  }).toPass({ timeout: 10_000 });
  const newPassword = (await shown.textContent())!.trim();
  await expect.poll(() => curlStatus(username, newPassword, baseURL!), { timeout: 5_000 }).toBe("200");
  expect(curlStatus(username, oldPassword, baseURL!)).toBe("407");
  errors.assertClean();
});

test("the IP allowlist refuses wide and private networks, asks for the password, lists what was added", async ({ page }) => {
  const errors = watchErrors(page);
  const email = `allow-${Date.now()}@example.com`;
  await page.goto("/register");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Create account" }).click();
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(/\/$/);

  await page.goto("/settings");
  await expect(page.locator("#allowlist-empty")).toBeVisible();
  await page.getByLabel("Address or network").fill("10.0.0.0/8");
  await page.getByLabel("Confirm with your password").fill(password);
  await page.getByRole("button", { name: "Add", exact: true }).click();
  await expect(page.locator("#settings-outcome")).toContainText("too wide");
  // A private network is refused (the service runs without ATLANTIC_ALLOW_PRIVATE_SOURCES).
  await page.getByLabel("Address or network").fill("192.168.1.0/24");
  await page.getByLabel("Confirm with your password").fill(password);
  await page.getByRole("button", { name: "Add", exact: true }).click();
  await expect(page.locator("#settings-outcome")).toContainText("Only public addresses");
  // Adding asks for the password again.
  await page.getByLabel("Address or network").fill("203.0.113.7");
  await page.getByLabel("Confirm with your password").fill("not the password");
  await page.getByRole("button", { name: "Add", exact: true }).click();
  await expect(page.locator("#settings-outcome")).toContainText("current password is not correct");
  await expect(page.locator("#allowlist-empty")).toBeVisible();
  await page.getByLabel("Address or network").fill("203.0.113.7");
  await page.getByLabel("Label").fill("build server");
  await page.getByLabel("Confirm with your password").fill(password);
  await page.getByRole("button", { name: "Add", exact: true }).click();
  await expect(page.locator("#settings-outcome")).toContainText("Added");
  await expect(page.locator("#allowlist-table")).toContainText("203.0.113.7/32");
  await expect(page.locator("#allowlist-table")).toContainText("build server");
  await snap(page, "settings-allowlist");
  await page.getByRole("button", { name: "Remove 203.0.113.7/32" }).click();
  await expect(page.locator("#allowlist-empty")).toBeVisible();
  errors.assertClean();
});
