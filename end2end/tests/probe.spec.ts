// Journey: a customer clicks "Test my proxy" in Settings › Connect and sees, in place, the
// exit the gateway used, the IP the echo saw and the timings — over HTTP, then SOCKS5.
import { test, expect } from "@playwright/test";
import { snap, watchErrors } from "./helpers";

test("Test my proxy shows the exit, the IP seen and the timings", async ({ page }) => {
  test.setTimeout(60_000);
  const errors = watchErrors(page);
  await page.goto("/settings");
  const button = page.getByRole("button", { name: "Test my proxy" });
  const result = page.locator("#probe-result");
  // a click before hydration does nothing: click until the result appears
  await expect(async () => {
    await button.click({ timeout: 1_000 });
    await expect(result).toBeVisible({ timeout: 12_000 });
  }).toPass({ timeout: 30_000 });

  await expect(page.locator("#probe-error")).toHaveCount(0);
  await expect(page.locator("#probe-ip")).toHaveText("127.0.0.1");
  await expect(page.locator("#probe-exit")).not.toBeEmpty();
  await expect(page.locator("#probe-connect")).toHaveText(/^\d+ ms$/);
  await expect(page.locator("#probe-ttfb")).toHaveText(/^\d+ ms$/);
  await expect(result).toContainText("HTTP via http://");
  // the proxy password is never shown in the result
  await expect(result).toContainText(":••••••••@");
  await snap(page, "settings-probe-http");

  await page.locator("#builder-protocol").selectOption("socks5");
  await button.click();
  await expect(result).toContainText("SOCKS5 via socks5h://", { timeout: 12_000 });
  await expect(page.locator("#probe-ip")).toHaveText("127.0.0.1");
  await expect(page.locator("#probe-exit")).toContainText("SOCKS5 does not report the exit");
  await expect(page.locator("#probe-ttfb")).toHaveText(/^\d+ ms$/);
  await snap(page, "settings-probe-socks5");
  errors.assertClean();
});
