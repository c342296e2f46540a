/** `npm run proposals`: regenerates schemas/ and proposals/. */
import { mkdir, writeFile, readdir, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { generateArtifacts } from './artifacts.js';

const files = await generateArtifacts();
for (const dir of ['proposals']) {
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    if (!files.has(`${dir}/${name}`) && (name.endsWith('.md') || name.endsWith('.json'))) await unlink(`${dir}/${name}`);
  }
}
for (const [path, text] of files) {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, text);
  process.stdout.write(`wrote ${path}\n`);
}
