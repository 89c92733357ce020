// Signs the journeys' customer in through the real form, once for the whole run, and saves
// the session cookie: specs start signed in without spending the per-IP sign-in budget
// (5 attempts a minute). `cargo xtask e2e` provisions that customer with a plan
// (E2E_EMAIL/E2E_PASSWORD); against a server started by hand, a fresh account is registered
// instead (it has no plan, so traffic through the gateway gets quota_exceeded).
//
// It also starts the origin the journeys send proxy traffic to (ORIGIN_URL): a few bytes of
// "ok" on loopback. Not the service's own web port: the gateway refuses to connect to that.
import { request, expect, FullConfig } from "@playwright/test";
import { mkdirSync } from "fs";
import { createServer } from "http";
import { AddressInfo } from "net";

/** Starts the loopback origin and publishes its URL to the workers; returns its teardown. */
async function startOrigin(): Promise<() => Promise<void>> {
  const origin = createServer((_req, res) => {
    res.writeHead(200, { "content-type": "text/plain", "content-length": "3" });
    res.end("ok\n");
  });
  await new Promise<void>((resolve) => origin.listen(0, "127.0.0.1", resolve));
  const { port } = origin.address() as AddressInfo;
  process.env.ORIGIN_URL = `http://127.0.0.1:${port}`;
  return () => new Promise<void>((resolve) => origin.close(() => resolve()));
}

export default async function globalSetup(config: FullConfig) {
  const stopOrigin = await startOrigin();
  const baseURL = config.projects[0].use.baseURL!;
  mkdirSync("artifacts/.auth", { recursive: true });
  const api = await request.newContext({ baseURL, extraHTTPHeaders: { origin: baseURL } });
  let user = { email: process.env.E2E_EMAIL ?? "", password: process.env.E2E_PASSWORD ?? "" };
  if (!user.email) {
    user = { email: `e2e-${Date.now()}@example.com`, password: "violet-kettle-orbit-91" };
    const registered = await api.post("/register", { form: user, maxRedirects: 0 });
    expect(registered.status()).toBe(303);
  }
  const signedIn = await api.post("/login", { form: user, maxRedirects: 0 });
  expect(signedIn.headers()["location"], "signed in").toBe("/");
  await api.storageState({ path: "artifacts/.auth/state.json" });
  await api.dispose();
  return stopOrigin;
}
