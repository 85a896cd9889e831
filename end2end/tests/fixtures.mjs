// Every test's browsers come from a client address of their own, as separate people's would: the server trusts
// 127.0.0.1 as its reverse proxy (run.sh sets TRUSTED_PROXIES), so the X-Forwarded-For header set here is the
// address its per-address limits see. Without it, every test of a spec file would share one address and its
// production allowance (30 POSTs a minute), which no real user population does.
import { test as base, expect } from '@playwright/test';

let tests = 0;

export const test = base.extend({
  extraHTTPHeaders: async ({}, use) => {
    tests += 1;
    await use({ 'x-forwarded-for': `203.0.113.${(tests % 250) + 1}` });
  },
});

export { expect };
