// Parses the Mermaid document on stdin with mermaid's own parser (the one GitHub's renderer
// runs); exit 1 with mermaid's error when it does not parse. jsdom gives DOMPurify, which
// mermaid loads, the window it needs outside a browser.
import { JSDOM } from 'jsdom';
import { readFileSync } from 'node:fs';

const dom = new JSDOM('<!doctype html><html><body></body></html>');
globalThis.window = dom.window;
globalThis.document = dom.window.document;
const { default: mermaid } = await import('mermaid');
const text = readFileSync(0, 'utf8');
try {
  const parsed = await mermaid.parse(text);
  console.log(JSON.stringify(parsed));
} catch (e) {
  console.error(String((e && e.message) || e));
  process.exit(1);
}
