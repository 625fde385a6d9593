#!/usr/bin/env node
/*
 * The notices of the third-party code a bundle contains, from Bun's --metafile: every package under
 * node_modules that contributed an input, with its version, its licence and the text of its LICENSE/NOTICE
 * files, as the MIT, ISC, BSD and Apache-2.0 licences of those packages ask of a redistribution.
 *   node scripts/third-party-notices.mjs META.json [--runtime] > THIRD-PARTY-NOTICES.txt
 * --runtime adds the Bun runtime that the compiled executables embed.
 */
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';

const [metafile, flag] = process.argv.slice(2);
if (!metafile) {
  process.stderr.write('usage: third-party-notices.mjs META.json [--runtime]\n');
  process.exit(2);
}
const inputs = Object.keys(JSON.parse(readFileSync(metafile, 'utf8')).inputs);
const dirs = new Set();
for (const input of inputs) {
  const match = /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(input);
  if (match) dirs.add(match[1]);
}
const root = process.cwd();
const packages = [...dirs].map((dir) => path.resolve(root, dir));
if (flag === '--runtime') packages.push(path.resolve(root, 'node_modules/bun'));

const sections = [];
for (const dir of packages.sort()) {
  const manifest = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8'));
  const texts = readdirSync(dir)
    .filter((name) => /^(licen[cs]e|copying|notice)(\.(md|txt|markdown))?$/i.test(name))
    .sort()
    .map((name) => readFileSync(path.join(dir, name), 'utf8').trim());
  if (texts.length === 0) texts.push(`(no licence file in the package; package.json says ${manifest.license})`);
  sections.push(
    [`${manifest.name}@${manifest.version} (${manifest.license ?? 'no licence field'})`, ...texts].join('\n\n'),
  );
}
if (flag === '--runtime') {
  sections.push(
    [
      'The Bun runtime (bun, embedded in the irsa-doctor executables)',
      'Bun is MIT-licensed and statically links JavaScriptCore (WebKit, LGPL-2.1) and other libraries; their notices: https://bun.com/docs/project/licensing',
    ].join('\n\n'),
  );
}
const rule = `\n\n${'-'.repeat(78)}\n\n`;
process.stdout.write(`irsa-doctor bundles the following third-party software.${rule}${sections.join(rule)}\n`);
