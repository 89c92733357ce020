// Registers one account and signs it in through the real forms, once for the whole run, and
// saves the session cookie: the specs start signed in without spending the per-IP sign-in
// budget (5 attempts a minute) on every test.
import { request, expect, FullConfig } from "@playwright/test";
import { mkdirSync } from "fs";

export const STATE = "artifacts/.auth/state.json";
export const USER = { email: `e2e-${Date.now()}@example.com`, password: "violet-kettle-orbit-91" };

export default async function globalSetup(config: FullConfig) {
  const baseURL = config.projects[0].use.baseURL!;
  mkdirSync("artifacts/.auth", { recursive: true });
  const api = await request.newContext({ baseURL, extraHTTPHeaders: { origin: baseURL } });
  const registered = await api.post("/register", { form: USER, maxRedirects: 0 });
  expect(registered.status()).toBe(303);
  const signedIn = await api.post("/login", { form: USER, maxRedirects: 0 });
  expect(signedIn.headers()["location"]).toBe("/");
  await api.storageState({ path: STATE });
  process.env.E2E_EMAIL = USER.email;
  await api.dispose();
}
