// Shared helpers: fail a test on any page error or console error, and keep screenshots.
import { Page, expect } from "@playwright/test";

/** Collects page errors and console errors; call `assertClean()` at the end of a test. */
export function watchErrors(page: Page) {
  const problems: string[] = [];
  page.on("pageerror", (e) => problems.push(`pageerror: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error") problems.push(`console.error: ${m.text()}`);
  });
  return {
    assertClean: () => expect(problems, problems.join("\n")).toEqual([]),
  };
}


/** Saves a full-page screenshot under artifacts/screenshots/. */
export async function snap(page: Page, name: string) {
  await page.screenshot({ path: `artifacts/screenshots/${name}.png`, fullPage: true });
}
