// @ts-check
/**
 * Runs the engine's pre-archive (archiveSchema, as C2's archive step does) in its own process,
 * so bench/archive.ts can read this process's peak RSS. Plain JavaScript over the built dist/,
 * so no TypeScript loader inflates the figure.
 *
 *   node bench/archive-driver.mjs TARGET_URL SCHEMA TO EXPECT_TABLES
 * prints one JSON line: { ms, maxRssKb, outcome }
 */
import { archiveSchema } from '../dist/exec/archive.js';
import { resolveTarget } from '../dist/exec/target.js';

const [url, schema, to, expect] = process.argv.slice(2);
if (!url || !schema || !to || !expect) {
  console.error('usage: node bench/archive-driver.mjs TARGET_URL SCHEMA TO EXPECT_TABLES');
  process.exit(2);
}
const t = performance.now();
const outcome = await archiveSchema(resolveTarget(url, {}), schema, to, Number(expect));
const ms = performance.now() - t;
console.log(JSON.stringify({ ms, maxRssKb: process.resourceUsage().maxRSS, outcome }));
