// Long-lived streams opened from inside a page, through the gate: an
// echoing websocket and a download being read. `window.cut` records when
// and how each one ends. Passed to page.evaluate, so it stays
// self-contained: it uses nothing from this module.
export async function openStreams() {
  const cut = { downloadBytes: 0 };
  window.cut = cut;
  // What a screenshot shows: the state of both streams.
  const board = document.createElement('pre');
  document.body.append(board);
  const show = () => {
    board.textContent = `websocket: ${cut.websocket ? `closed (${cut.websocket.how})` : 'open'}\n`
      + `download: ${cut.download ? cut.download.how : 'running'}, ${cut.downloadBytes} bytes`;
  };

  const ws = new WebSocket(`ws://${location.host}/live/ws`);
  await new Promise((resolve, reject) => { ws.onopen = resolve; ws.onerror = () => reject(new Error('websocket failed')); });
  const echo = new Promise((resolve) => { ws.onmessage = (event) => resolve(event.data); });
  ws.send('ping');
  if (await echo !== 'ping') throw new Error('no echo');
  ws.onclose = (event) => {
    cut.websocket = { at: Date.now(), how: `close code ${event.code}` };
    show();
  };

  const response = await fetch('/live/download');
  if (!response.ok) throw new Error(`download: ${response.status}`);
  const reader = response.body.getReader();
  const read = async () => {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return 'ended cleanly';
      cut.downloadBytes += value.length;
      show();
    }
  };
  const ended = (how) => {
    cut.download = { at: Date.now(), how };
    show();
  };
  read().then(ended, (err) => ended(`error: ${err.message}`));
  while (cut.downloadBytes < 128 * 1024 && !cut.download) await new Promise((r) => setTimeout(r, 20));
  return { echoed: true, downloadBytes: cut.downloadBytes, downloadEnded: cut.download };
}
