// A tiny local site for the browser tests: a page with text, a button that changes the
// page, a form field and a link, served on 127.0.0.1 from a random port.
import http from 'node:http';

export const PAGE_TITLE = 'Clawgate Browser Test';

const pages = {
  '/': `<!doctype html><html><head><title>${PAGE_TITLE}</title></head><body>
<h1>Welcome to the test page</h1>
<p>Some visible paragraph text.</p>
<p style="display:none">hidden text that a snapshot leaves out</p>
<button id="go" onclick="document.getElementById('out').textContent = 'button was clicked'">Press me</button>
<div id="out">not clicked yet</div>
<label for="name">Your name</label> <input id="name" name="name" placeholder="type here">
<a href="/second">Go to second page</a>
</body></html>`,
  '/second': `<!doctype html><html><head><title>Second</title></head><body><p>This is the second page.</p></body></html>`,
  '/tall': `<!doctype html><html><head><title>Tall</title></head><body style="margin:0"><div style="height:3000px;background:#c33">tall</div></body></html>`,
};

/** Starts the site; resolves {port, url(path), close()}; /redirect-to-loopback answers 302
 * to 127.0.0.1. */
export async function startTestSite() {
  const server = http.createServer((req, res) => {
    if (req.url.startsWith('/redirect-to-loopback')) {
      res.writeHead(302, { location: `http://127.0.0.1:${server.address().port}/second` });
      res.end();
      return;
    }
    const body = pages[req.url.split('?')[0]];
    if (!body) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(body);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return {
    port,
    url: (p = '/') => `http://127.0.0.1:${port}${p}`,
    close: () => new Promise((resolve) => { server.closeAllConnections?.(); server.close(resolve); }),
  };
}

/** {width, height} from a PNG's IHDR chunk; throws when buf is not a PNG. */
export function pngSize(buf) {
  const magic = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  if (buf.length < 24 || !buf.subarray(0, 8).equals(magic)) throw new Error('not a PNG');
  if (buf.toString('latin1', 12, 16) !== 'IHDR') throw new Error('PNG without IHDR first');
  return { width: buf.readUInt32BE(16), height: buf.readUInt32BE(20) };
}
