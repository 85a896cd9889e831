// Development helper: screenshots a page in Debian's Chromium and prints console errors.
// node end2end/debug-shot.mjs URL OUT.png [dark]
import { chromium } from '@playwright/test';
const [url, out, scheme] = process.argv.slice(2);
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
const page = await browser.newPage({ colorScheme: scheme === 'dark' ? 'dark' : 'light', viewport: { width: 1100, height: 800 } });
page.on('console', (m) => console.log('console:', m.type(), m.text()));
page.on('pageerror', (e) => console.log('pageerror:', e.message));
page.on('requestfailed', (r) => console.log('requestfailed:', r.url(), r.failure()?.errorText));
await page.goto(url);
await page.waitForTimeout(2500);
console.log('hydrated:', await page.locator('body[data-hydrated="true"]').count());
await page.screenshot({ path: out, fullPage: true });
await browser.close();
