// Journey: the live session inspector. Two upstream exits (tiny CONNECT proxies on loopback
// that record which tunnels reach them) are added as an operator would, with the CLI; the
// customer opens two sticky sessions with curl, sees both on Usage with the exits that carry
// them, ends one — its open tunnel closes — and curl's next request with that session id lands
// on the other exit.
import { test, expect, Page } from "@playwright/test";
import { execFile, spawnSync } from "child_process";
import { AddressInfo, Server, Socket, connect, createServer } from "net";
import { promisify } from "util";
import { snap, watchErrors } from "./helpers";

const run = promisify(execFile);

/** An upstream exit: a CONNECT-only proxy that counts the tunnels it opens. */
interface Exit {
  name: string;
  port: number;
  tunnels: number;
  server: Server;
  id?: string;
}

async function startExit(name: string): Promise<Exit> {
  const exit: Exit = { name, port: 0, tunnels: 0, server: createServer() };
  exit.server.on("connection", (client: Socket) => {
    client.on("error", () => client.destroy());
    client.once("data", (chunk) => {
      const m = /^CONNECT \[?([^\] ]+?)\]?:(\d+) HTTP\/1\.[01]\r\n/.exec(chunk.toString("latin1"));
      if (!m) {
        client.end("HTTP/1.1 400 Bad Request\r\n\r\n");
        return;
      }
      const origin = connect(Number(m[2]), m[1], () => {
        exit.tunnels += 1;
        client.write("HTTP/1.1 200 Connection established\r\n\r\n");
        origin.pipe(client);
        client.pipe(origin);
      });
      origin.on("error", () => client.end("HTTP/1.1 502 Bad Gateway\r\n\r\n"));
      origin.on("close", () => client.destroy());
      client.on("close", () => origin.destroy());
    });
  });
  await new Promise<void>((resolve) => exit.server.listen(0, "127.0.0.1", resolve));
  exit.port = (exit.server.address() as AddressInfo).port;
  return exit;
}

/** Runs the operator's CLI; its standard output (`upstream add` prints the new id there). */
function atlantic(args: string[]): string {
  const binary = process.env.ATLANTIC_BINARY;
  const databaseUrl = process.env.ATLANTIC_DATABASE_URL;
  if (!binary || !databaseUrl) throw new Error("ATLANTIC_BINARY and ATLANTIC_DATABASE_URL are set by `cargo xtask e2e`");
  const done = spawnSync(binary, args, {
    env: { ...process.env, DATABASE_URL: databaseUrl },
    encoding: "utf8",
  });
  if (done.status !== 0) throw new Error(`atlantic ${args.join(" ")} failed: ${done.stderr}`);
  return done.stdout;
}

/** One request through the proxy URL, in a tunnel of its own (`-p`: CONNECT, as for https,
 * so that each request reaches an exit; a forward request may reuse a kept-alive connection);
 * returns the HTTP status curl saw. */
async function curlThrough(proxyUrl: string, target: string): Promise<string> {
  const { stdout } = await run("curl", [
    "-s", "-p", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "5", "-x", proxyUrl, target,
  ]);
  return stdout.trim();
}

/** The builder's HTTP proxy URL (password revealed) for sticky session `session`. */
async function sessionUrl(page: Page, session: string): Promise<string> {
  await page.locator("#builder-session").fill(session);
  await page.locator("#builder-reveal").check();
  await expect(page.locator("#builder-url")).toContainText(new RegExp(`-session-${session}[-:]`));
  return (await page.locator("#builder-url").textContent())!.trim();
}

/** Which exit a request through `url` went to: the one whose tunnel count grew. */
async function exitTaking(exits: Exit[], url: string, target: string): Promise<Exit> {
  const before = exits.map((e) => e.tunnels);
  expect(await curlThrough(url, target)).toBe("200");
  const grew = exits.filter((e, i) => e.tunnels > before[i]);
  expect(grew.map((e) => e.name), "exactly one exit carried the request").toHaveLength(1);
  return grew[0];
}

/** Opens a CONNECT tunnel through the gateway and keeps it open; resolves once established. */
async function openTunnel(url: string, target: string): Promise<{ exitHeader: string; closed: Promise<void> }> {
  const proxy = new URL(url);
  const origin = new URL(target);
  const auth = Buffer.from(`${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`).toString("base64");
  const socket = connect(Number(proxy.port), proxy.hostname);
  const closed = new Promise<void>((resolve) => socket.on("close", () => resolve()));
  socket.on("error", () => socket.destroy());
  const head = await new Promise<string>((resolve, reject) => {
    let got = "";
    socket.on("data", function read(chunk) {
      got += chunk.toString("latin1");
      if (got.includes("\r\n\r\n")) {
        socket.off("data", read);
        resolve(got);
      }
    });
    socket.once("close", () => reject(new Error(`tunnel closed before its answer: ${got}`)));
    socket.write(
      `CONNECT ${origin.host} HTTP/1.1\r\nHost: ${origin.host}\r\nProxy-Authorization: Basic ${auth}\r\n\r\n`,
    );
  });
  expect(head).toMatch(/^HTTP\/1\.1 200 /);
  const exitHeader = /\r\nX-Atlantic-Exit: (\d+)\r\n/i.exec(head)?.[1] ?? "";
  return { exitHeader, closed };
}

function row(page: Page, session: string) {
  return page.locator(`#sessions-table tr[data-session="${session}"]`);
}

test("two sticky sessions on the inspector; ending one closes it and moves it to another exit", async ({ page }) => {
  test.setTimeout(90_000);
  const errors = watchErrors(page);
  const target = `${process.env.ORIGIN_URL}/`;
  const exits = [await startExit("E2E Berlin"), await startExit("E2E Paris")];
  let plain = "";
  try {
    for (const [exit, country, city] of [[exits[0], "de", "Berlin"], [exits[1], "fr", "Paris"]] as const) {
      const added = atlantic([
        "upstream", "add", `http://127.0.0.1:${exit.port}`, "--country", country, "--city", city, "--name", exit.name,
      ]);
      exit.id = /^(\d+)$/m.exec(added)?.[1];
      expect(exit.id, added).toBeTruthy();
    }

    await page.goto("/settings");
    const alpha = await sessionUrl(page, "alpha");
    const beta = await sessionUrl(page, "beta");
    plain = alpha.replace(/-session-alpha(-ttl-\d+)?/, "");
    // the gateway reloads its directory every 2 s: wait until requests leave through the exits
    await expect(async () => {
      const before = exits[0].tunnels + exits[1].tunnels;
      expect(await curlThrough(plain, target)).toBe("200");
      expect(exits[0].tunnels + exits[1].tunnels).toBeGreaterThan(before);
    }).toPass({ timeout: 15_000 });

    const alphaExit = await exitTaking(exits, alpha, target);
    const betaExit = await exitTaking(exits, beta, target);
    // a request again with the same session keeps its exit
    expect((await exitTaking(exits, alpha, target)).name).toBe(alphaExit.name);
    const tunnel = await openTunnel(alpha, target);
    expect(tunnel.exitHeader, "the CONNECT answer names the exit").toBe(alphaExit.id);

    await page.goto("/usage");
    await expect(page.locator("#sessions-status")).toHaveAttribute("data-status", "live");
    await expect(row(page, "alpha").locator(".session-exit")).toContainText(alphaExit.name);
    await expect(row(page, "beta").locator(".session-exit")).toContainText(betaExit.name);
    await expect(row(page, "alpha").locator(".session-exit")).toContainText(alphaExit.name === "E2E Berlin" ? "DE · Berlin" : "FR · Paris");
    await expect(row(page, "alpha").locator(".session-open")).toHaveText("1");
    await expect(row(page, "alpha")).toHaveAttribute("data-exit", alphaExit.id!);
    await snap(page, "usage-sessions");

    await page.getByRole("button", { name: "End session alpha" }).click();
    await expect(row(page, "alpha")).toHaveCount(0);
    await expect(row(page, "beta")).toHaveCount(1);
    // its open tunnel is closed by the gateway
    await Promise.race([
      tunnel.closed,
      new Promise((_, reject) => setTimeout(() => reject(new Error("the session's tunnel stayed open")), 5_000)),
    ]);

    // the next request with that session id gets the other exit, and the inspector shows it
    const moved = await exitTaking(exits, alpha, target);
    expect(moved.name).not.toBe(alphaExit.name);
    await expect(row(page, "alpha").locator(".session-exit")).toContainText(moved.name);
    expect((await exitTaking(exits, beta, target)).name, "the other session kept its exit").toBe(betaExit.name);

    await page.goto("/activity");
    await expect(page.getByText("Sticky session ended").first()).toBeVisible();
    errors.assertClean();
  } finally {
    for (const exit of exits) {
      if (exit.id) atlantic(["upstream", "remove", exit.id]);
      exit.server.close();
    }
    // the journeys after this one expect direct egress again: wait for the gateway's reload
    if (plain) {
      await expect(async () => {
        const before = exits[0].tunnels + exits[1].tunnels;
        expect(await curlThrough(plain, target)).toBe("200");
        expect(exits[0].tunnels + exits[1].tunnels).toBe(before);
      }).toPass({ timeout: 15_000 });
    }
  }
});
