// Journey: a visitor is sent to sign-in, creates an account (a weak password is refused),
// signs in (a wrong password is refused with a generic message), sees the dashboard, signs
// out — and the same forms work with JavaScript turned off.
import { test, expect } from "@playwright/test";
import { snap, watchErrors } from "./helpers";

test.use({ storageState: { cookies: [], origins: [] } });

const password = "amber-lantern-quiet-47";

test("register, sign in and sign out", async ({ page }) => {
  const errors = watchErrors(page);
  const email = `journey-${Date.now()}@example.com`;

  await page.goto("/usage");
  await expect(page).toHaveURL(/\/login$/);
  await page.getByRole("link", { name: "Create one" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Create an account" })).toBeVisible();

  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill("password123");
  await page.getByRole("button", { name: "Create account" }).click();
  await expect(page.getByRole("alert")).toContainText("too easy to guess");
  await snap(page, "register-weak-password");

  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Create account" }).click();
  await expect(page).toHaveURL(/\/login\?registered=1$/);
  await expect(page.getByRole("status")).toContainText("Sign in to continue");

  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill("not my password at all");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("alert")).toHaveText("Email or password is incorrect.");

  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(/\/$/);
  await expect(page.locator(".whoami")).toHaveText(email);
  await snap(page, "signed-in");

  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page).toHaveURL(/\/login\?signed_out=1$/);
  await page.goto("/billing");
  await expect(page).toHaveURL(/\/login$/);
  errors.assertClean();
});

test("sign-in works with JavaScript turned off", async ({ browser, baseURL }) => {
  const api = await browser.newContext({ javaScriptEnabled: false, storageState: { cookies: [], origins: [] } });
  const page = await api.newPage();
  const email = `nojs-${Date.now()}@example.com`;
  await page.goto("/register");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Create account" }).click();
  await expect(page).toHaveURL(`${baseURL}/login?registered=1`);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(`${baseURL}/`);
  await expect(page.getByRole("heading", { level: 1, name: "Statistics" })).toBeVisible();
  await api.close();
});
