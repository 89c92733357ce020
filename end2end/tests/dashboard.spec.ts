// Journey: a customer with a plan builds a proxy URL in Settings, sends traffic with curl
// through both proxy ports, watches the live tiles move, and finds exactly that traffic on
// Statistics, Usage (with its sticky session), the CSV export and Activity. Every page is
// screenshotted and checked with axe-core for serious accessibility violations.
import { test, expect, Page } from "@playwright/test";
import AxeBuilder from "@axe-core/playwright";
import { execFile, execFileSync } from "child_process";
import { readFileSync } from "fs";
import { promisify } from "util";
import { snap, watchErrors } from "./helpers";

const run = promisify(execFile);

test.use({
  storageState: { cookies: [], origins: [] },
  extraHTTPHeaders: { "x-forwarded-for": "198.51.100.77" },
});

const password = "harbour-lantern-quill-52";

function grantStarter(email: string) {
  const binary = process.env.ATLANTIC_BINARY;
  const databaseUrl = process.env.ATLANTIC_DATABASE_URL;
  if (!binary || !databaseUrl) throw new Error("ATLANTIC_BINARY and ATLANTIC_DATABASE_URL are set by `cargo xtask e2e`");
  execFileSync(binary, ["user", "grant", "--email", email, "--plan", "Starter"], {
    env: { ...process.env, DATABASE_URL: databaseUrl },
  });
}

/** One request through the proxy URL; returns the HTTP status curl saw. */
async function curlThrough(proxyUrl: string, target: string): Promise<string> {
  const { stdout } = await run("curl", [
    "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "5", "-x", proxyUrl, target,
  ]);
  return stdout.trim();
}

/** No serious or critical axe-core violations on the page as it is now. */
async function accessible(page: Page) {
  const results = await new AxeBuilder({ page }).analyze();
  const serious = results.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  expect(serious.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).join(", ")})`)).toEqual([]);
}

test("build a proxy URL, send traffic, and find it on every page", async ({ page, baseURL }) => {
  test.setTimeout(120_000);
  const errors = watchErrors(page);
  const email = `dash-${Date.now()}@example.com`;
  // the run's origin (global-setup.ts): the gateway never connects to the service's own port
  const target = `${process.env.ORIGIN_URL}/`;

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

  // Nothing yet: the statistics page says so honestly.
  await expect(page.getByRole("heading", { name: "No traffic in this range" })).toBeVisible();
  await expect(page.locator("#live-status")).toHaveAttribute("data-status", "live");
  await expect(page.locator("#tile-requests")).toHaveText("0");
  await accessible(page);

  // Settings › Connection builder: a sticky session, the HTTP URL, then the SOCKS5 one.
  await page.goto("/settings");
  await expect(page.locator("#profile-email")).toHaveText(email);
  await page.locator("#builder-session").fill("e2etrip");
  await page.locator("#builder-ttl").fill("15");
  await page.locator("#builder-reveal").check();
  const httpUrl = (await page.locator("#builder-url").textContent())!.trim();
  expect(httpUrl).toMatch(/^http:\/\/[a-z0-9]+-session-e2etrip-ttl-15:[^@•]+@[^:]+:\d+$/);
  await expect(page.locator("#builder-curl")).toContainText(httpUrl);
  await page.locator("#builder-protocol").selectOption("socks5");
  const socksUrl = (await page.locator("#builder-url").textContent())!.trim();
  expect(socksUrl).toMatch(/^socks5h:\/\/[a-z0-9]+-session-e2etrip-ttl-15:[^@•]+@[^:]+:\d+$/);
  await page.locator("#builder-reveal").uncheck();
  await expect(page.locator("#builder-url")).toContainText("••••");
  await snap(page, "dashboard-settings");
  await accessible(page);

  // Live: the tiles move while traffic flows.
  await page.goto("/");
  await expect(page.locator("#live-status")).toHaveAttribute("data-status", "live");
  const sent = { http: 6, socks: 4 };
  for (let i = 0; i < sent.http; i++) expect(await curlThrough(httpUrl, target)).toBe("200");
  for (let i = 0; i < sent.socks; i++) expect(await curlThrough(socksUrl, target)).toBe("200");
  const total = sent.http + sent.socks;
  await expect(page.locator("#tile-requests")).toHaveText(String(total), { timeout: 5_000 });

  // History: exactly what was sent, once the gateway has flushed.
  await expect(async () => {
    await page.reload();
    await expect(page.locator("#total-requests")).toHaveText(String(total), { timeout: 1_000 });
  }).toPass({ timeout: 20_000 });
  await expect(page.locator("#total-success")).toHaveText("100.0 %");
  await expect(page.locator("#chart-traffic canvas")).toHaveCount(1);
  await expect(page.locator("#chart-requests canvas")).toHaveCount(1);
  await page.locator("#range-7d").click();
  await expect(page).toHaveURL(/\?range=7d$/);
  await expect(page.locator("#total-requests")).toHaveText(String(total));
  // The chart is redrawn for the new range: 7 × 24 hourly points.
  await expect
    .poll(() => page.evaluate(() => {
      const el = document.getElementById("chart-traffic");
      const chart = el && (window as any).echarts.getInstanceByDom(el);
      return chart ? chart.getOption().xAxis[0].data.length : 0;
    }))
    .toBe(168);
  // Switching the theme redraws the charts in its colours (ECharts takes them at creation).
  const chartId = () => page.locator("#chart-traffic").getAttribute("_echarts_instance_");
  const before = await chartId();
  expect(before).toBeTruthy();
  await page.locator("#theme-toggle").click();
  await expect.poll(chartId).not.toBe(before);
  await expect(page.locator("#chart-traffic canvas")).toHaveCount(1);
  await snap(page, `dashboard-statistics-${await page.locator("html").getAttribute("data-theme")}`);
  await page.locator("#theme-toggle").click();
  await snap(page, "dashboard-statistics");
  await accessible(page);

  // Usage: the quota bar, the session breakdown, the CSV.
  await page.goto("/usage");
  await expect(page.locator("#quota-meter")).toBeVisible();
  await expect(page.locator("#chart-usage canvas")).toHaveCount(1);
  await expect(page.locator("#quota-used")).toContainText("of 5 GB");
  const session = page.locator("#usage-sessions tr", { hasText: "e2etrip" });
  await expect(session).toContainText(String(total));
  const [download] = await Promise.all([page.waitForEvent("download"), page.locator("#export-csv").click()]);
  const csv = readFileSync((await download.path())!, "utf8").trim().split("\n");
  expect(csv[0]).toBe("start_utc,local,time_zone,bytes_up,bytes_down,requests,errors");
  // 30 days cut at midnights (UTC here): 30 or 31 rows of days.
  expect(csv.length - 1).toBeGreaterThanOrEqual(30);
  expect(csv.length - 1).toBeLessThanOrEqual(31);
  const requests = csv.slice(1).reduce((sum, line) => sum + Number(line.split(",")[5]), 0);
  expect(requests).toBe(total);
  await snap(page, "dashboard-usage");
  await accessible(page);

  // Activity: the sign-in is there, and the filter narrows to it.
  await page.goto("/activity");
  await expect(page.locator("#activity-table")).toContainText("Signed in");
  await page.locator("#filter-security").click();
  await expect(page.getByRole("heading", { name: "No events" })).toBeVisible();
  await page.locator("#filter-sign-ins").click();
  await expect(page.locator("#activity-table tbody tr").first()).toContainText("Signed in");
  await snap(page, "dashboard-activity");
  await accessible(page);

  // Servers: honest about having no upstream exits in this run.
  await page.goto("/servers");
  await expect(page.locator("#servers-summary")).toHaveText("0 of 0 exits healthy");
  await snap(page, "dashboard-servers");
  await accessible(page);

  await page.goto("/billing");
  await snap(page, "dashboard-billing");
  await accessible(page);

  // Phone width: the navigation is a drawer and the tiles still fit.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto("/");
  await expect(page.locator("#nav-toggle")).toBeVisible();
  await snap(page, "dashboard-statistics-phone");
  errors.assertClean();
});

test("a cross-site page cannot open the live statistics", async ({ request, baseURL }) => {
  // The handshake itself is refused before any upgrade.
  const response = await request.get(`${baseURL}/ws/live`, {
    headers: { origin: "https://evil.example", connection: "upgrade", upgrade: "websocket", "sec-websocket-version": "13", "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==" },
  });
  expect(response.status()).toBe(403);
});
