// Journey: the customer buys a plan in Chromium through the built-in Paystack test double
// (checkout page → "Pay" → back to Billing) and sees the new plan and the payment; a declined
// checkout changes nothing.
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
