// Long-lived streams opened from inside a page, through the gate: an
// echoing websocket and a download being read. `window.cut` records when
// and how each one ends. Passed to page.evaluate, so it stays
// self-contained (no imports, no closures).
export async function openStreams() {
  const cut = { downloadBytes: 0 };
  window.cut = cut;

  const ws = new WebSocket(`ws://${location.host}/live/ws`);
  await new Promise((resolve, reject) => { ws.onopen = resolve; ws.onerror = () => reject(new Error('websocket failed')); });
  const echo = new Promise((resolve) => { ws.onmessage = (event) => resolve(event.data); });
  ws.send('ping');
  if (await echo !== 'ping') throw new Error('no echo');
  ws.onclose = (event) => { cut.websocket = { at: Date.now(), how: `close code ${event.code}` }; };

  const response = await fetch('/live/download');
  if (!response.ok) throw new Error(`download: ${response.status}`);
  const reader = response.body.getReader();
  const read = async () => {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return 'ended cleanly';
      cut.downloadBytes += value.length;
    }
  };
  read().then(
    (how) => { cut.download = { at: Date.now(), how }; },
    (err) => { cut.download = { at: Date.now(), how: `error: ${err.message}` }; },
  );
  while (cut.downloadBytes < 128 * 1024 && !cut.download) await new Promise((r) => setTimeout(r, 20));
  return { echoed: true, downloadBytes: cut.downloadBytes, downloadEnded: cut.download };
}
