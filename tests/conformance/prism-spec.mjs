// Writes the Management API subset document for Prism: the same document
// with /api/v2 put in front of every path and the server list emptied, so
// that Prism's routes match the URLs clients use. Input and output paths
// are arguments; the document itself is never copied into the repository.
import { readFileSync, writeFileSync } from 'node:fs';

const [src, dst] = process.argv.slice(2);
const doc = JSON.parse(readFileSync(src, 'utf8'));
const paths = {};
for (const [p, v] of Object.entries(doc.paths))
    paths[`/api/v2${p}`] = v;
doc.paths = paths;
doc.servers = [{ url: '/' }];
writeFileSync(dst, JSON.stringify(doc));
