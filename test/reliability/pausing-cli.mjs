// The dotctl CLI with a kill-point hook injected, for the kill-point suite only. The hook is
// passed to the program as a dependency; the shipped entry (dist/cli/main.js) passes none, and
// no environment variable makes it pause. Usage: node pausing-cli.mjs <key> <dotctl args...>;
// it writes `dotctl: paused at <key>` to stderr right after that step was recorded and waits
// (10 min) so the test can SIGKILL it there.
const [key, ...args] = process.argv.slice(2);
const { run } = await import(new URL('../../dist/cli/program.js', import.meta.url).href);
run([process.argv[0], 'dotctl', ...args], {
  hooks: {
    async afterStep(k) {
      if (k !== key) return;
      process.stderr.write(`dotctl: paused at ${k}\n`);
      await new Promise((r) => setTimeout(r, 600_000));
    },
  },
});
