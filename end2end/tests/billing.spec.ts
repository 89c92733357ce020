// Journey: the customer buys a plan in Chromium through the built-in Paystack test double
// (checkout page → "Pay" → back to Billing) and sees the new plan and the payment; a declined
// checkout changes nothing. Then a switch of plans shows its credit and terms before paying.
import { test, expect } from "@playwright/test";
import { snap, watchErrors } from "./helpers";

test("buy a plan through the Paystack test double", async ({ page }) => {
  const errors = watchErrors(page);
  await page.goto("/billing");
  await expect(page.locator("#current-plan")).toContainText("Starter");

  // Declined first: nothing changes.
  await page.getByRole("button", { name: "Buy Team" }).click();
  await expect(page.getByRole("heading", { name: "Paystack test checkout" })).toBeVisible();
  await expect(page.locator("#amount")).toHaveText("NGN 150000.00");
  await page.getByRole("button", { name: "Decline" }).click();
  await expect(page).toHaveURL(/\/billing\?error=declined$/);
  await expect(page.locator("#billing-outcome")).toContainText("declined");
  await expect(page.locator("#current-plan")).toContainText("Starter");

  await page.getByRole("button", { name: "Buy Personal" }).click();
  await expect(page.locator("#amount")).toHaveText("NGN 20000.00");
  await snap(page, "paystack-double-checkout");
  await page.getByRole("button", { name: "Pay" }).click();
  await expect(page).toHaveURL(/\/billing\?notice=paid$/);
  await expect(page.locator("#billing-outcome")).toContainText("your plan is active");
  await expect(page.locator("#current-plan")).toContainText("Personal");
  await expect(page.locator("[data-plan=personal]")).toContainText("(current)");
  await expect(page.locator("[data-plan=personal]")).toContainText("50");
  const rows = page.locator("#payments-table tbody tr");
  await expect(rows).toHaveCount(2);
  await expect(rows.first()).toContainText("paid");
  await expect(rows.nth(1)).toContainText("failed");
  await snap(page, "billing-paid");
  errors.assertClean();
});

// Journey: after paying for Personal above, switching to Team shows the credit for the unused
// part of Personal and the terms before paying, and Paystack's page asks for exactly the
// reduced amount; declined there, nothing changes. No dunning banner on a healthy account.
test("a switch of plans shows its credit and terms before paying", async ({ page }) => {
  const errors = watchErrors(page);
  await page.goto("/billing");
  await expect(page.locator("#current-plan")).toContainText("Personal");
  await expect(page.locator("#dunning-banner")).toHaveCount(0);
  await expect(page.locator("#proration-terms")).toContainText("rounded down to the kobo");
  await expect(page.locator("#proration-terms")).toContainText("at least ₦50");
  const credit = page.locator("[data-plan=team] .plan-credit");
  await expect(credit).toContainText("You pay");
  await expect(credit).toContainText("credit for the unused part of your current plan");
  const amountMinor = Number(await credit.getAttribute("data-amount-minor"));
  const creditMinor = Number(await credit.getAttribute("data-credit-minor"));
  expect(amountMinor + creditMinor).toBe(15000000);
  expect(creditMinor).toBeGreaterThan(0);
  expect(creditMinor).toBeLessThanOrEqual(2000000);
  await snap(page, "billing-switch-credit");

  await page.getByRole("button", { name: "Buy Team" }).click();
  await expect(page.getByRole("heading", { name: "Paystack test checkout" })).toBeVisible();
  // Worked out again when the checkout starts: at most a few kobo less credit than shown.
  const asked = await page.locator("#amount").innerText();
  const askedMinor = Math.round(Number(asked.replace("NGN ", "")) * 100);
  expect(askedMinor).toBeGreaterThanOrEqual(amountMinor);
  expect(askedMinor - amountMinor).toBeLessThan(100);
  await page.getByRole("button", { name: "Decline" }).click();
  await expect(page).toHaveURL(/\/billing\?error=declined$/);
  await expect(page.locator("#current-plan")).toContainText("Personal");
  errors.assertClean();
});
