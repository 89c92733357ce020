// Journey: a visitor opens the dashboard, it renders on the server, hydrates in the browser,
// every navigation link loads its page, and nothing errors along the way.
import { test, expect } from "@playwright/test";
import { snap, watchErrors } from "./helpers";

const PAGES = [
  { href: "/", heading: "Statistics" },
  { href: "/servers", heading: "Servers" },
  { href: "/usage", heading: "Usage" },
  { href: "/activity", heading: "Activity" },
  { href: "/settings", heading: "Settings" },
  { href: "/billing", heading: "Billing" },
];

test("the dashboard is rendered on the server before any script runs", async ({ browser }) => {
  const context = await browser.newContext({
    javaScriptEnabled: false,
    storageState: "artifacts/.auth/state.json",
  });
  const page = await context.newPage();
  const response = await page.goto("/");
  expect(response?.status()).toBe(200);
  await expect(page.getByRole("heading", { level: 1, name: "Statistics" })).toBeVisible();
  await expect(page.getByRole("navigation", { name: "Main" }).getByRole("link")).toHaveCount(PAGES.length);
  await context.close();
});

test("hydration makes the page interactive: the theme toggle switches and persists", async ({ page }) => {
  const errors = watchErrors(page);
  await page.goto("/");
  const html = page.locator("html");
  const toggle = page.locator("#theme-toggle");
  // Before hydration a click does nothing; retry until the wasm has taken over.
  await expect(async () => {
    await toggle.click();
    await expect(html).toHaveAttribute("data-theme", /^(dark|light)$/, { timeout: 500 });
  }).toPass({ timeout: 20_000 });
  const first = await html.getAttribute("data-theme");
  await toggle.click();
  const second = first === "dark" ? "light" : "dark";
  await expect(html).toHaveAttribute("data-theme", second);
  await expect(toggle).toHaveAttribute("data-theme-choice", second);
  // The choice is a cookie, so the server renders it on the next load with no flash.
  await page.reload();
  await expect(html).toHaveAttribute("data-theme", second);
  await snap(page, `theme-${second}`);
  errors.assertClean();
});

test("every navigation link loads its page", async ({ page }) => {
  const errors = watchErrors(page);
  await page.goto("/");
  await expect(page.locator("#nav-toggle"), "no menu button on a wide screen").toBeHidden();
  const nav = page.getByRole("navigation", { name: "Main" });
  for (const { href, heading } of PAGES) {
    await nav.locator(`a[href="${href}"]`).click();
    await expect(page).toHaveURL(new RegExp(`${href === "/" ? "/$" : href}$`));
    await expect(page.getByRole("heading", { level: 1, name: heading })).toBeVisible();
    await expect(nav.locator(`a[href="${href}"]`)).toHaveAttribute("aria-current", "page");
    await expect(page).toHaveTitle(`${heading} · AtlanticProxy`);
    await snap(page, `page${href === "/" ? "-statistics" : href.replace("/", "-")}`);
  }
  // Direct loads work too (server routes, not only client-side navigation).
  for (const { href, heading } of PAGES) {
    const response = await page.goto(href);
    expect(response?.status(), href).toBe(200);
    await expect(page.getByRole("heading", { level: 1, name: heading })).toBeVisible();
  }
  errors.assertClean();
});

test("the billing page lists the plans from the database", async ({ page }) => {
  const errors = watchErrors(page);
  await page.goto("/billing");
  const cards = page.locator(".plan-card");
  await expect(cards).toHaveCount(4);
  await expect(cards.nth(0)).toContainText("Starter");
  await expect(cards.nth(0)).toContainText("₦5,000");
  await expect(cards.nth(0)).toContainText("5 GB");
  await expect(cards.nth(3)).toContainText("Enterprise");
  await expect(page.locator("[data-plan=unlimited]")).toHaveCount(0);
  await snap(page, "billing-plans");
  errors.assertClean();
});

test("the top bar shows who is signed in", async ({ page }) => {
  await page.goto("/");
  await expect(page.locator(".whoami")).toContainText("@example.com");
  await expect(page.getByRole("button", { name: "Sign out" })).toBeVisible();
});

test("an unknown address gets the 404 page with status 404", async ({ page }) => {
  const response = await page.goto("/no-such-page");
  expect(response?.status()).toBe(404);
  await expect(page.getByRole("heading", { level: 1, name: "Page not found" })).toBeVisible();
});

test("at phone width the navigation is a drawer", async ({ page }) => {
  const errors = watchErrors(page);
  await page.setViewportSize({ width: 390, height: 844 });
  await page.emulateMedia({ reducedMotion: "reduce" });
  await page.goto("/usage");
  const menu = page.locator("#nav-toggle");
  const sidebar = page.locator("#sidebar");
  await expect(menu).toBeVisible();
  await expect(async () => {
    await menu.click();
    await expect(menu).toHaveAttribute("aria-expanded", "true", { timeout: 500 });
  }).toPass({ timeout: 20_000 });
  await expect(sidebar.locator('a[href="/billing"]')).toBeInViewport();
  await snap(page, "phone-drawer-open");
  await sidebar.locator('a[href="/billing"]').click();
  await expect(page.getByRole("heading", { level: 1, name: "Billing" })).toBeVisible();
  await expect(menu).toHaveAttribute("aria-expanded", "false");
  errors.assertClean();
});
