// Child processes for the end-to-end stack: free ports, start with output
// to a log file, wait until ready, stop (and never leave one behind).
import { spawn } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const running = new Set();

// Whatever happens to the test process, its children go with it.
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/**
 * A port that was free a moment ago on 127.0.0.1, picked below the kernel's
 * ephemeral range (32768 and up by default, /proc/sys/net/ipv4/ip_local_port_range):
 * a port the kernel handed out for listen(0) can be taken by any outgoing connection
 * (another test, Docker, Chromium) before the server it was meant for binds it.
 */
export async function freePort() {
  for (let attempt = 0; attempt < 200; attempt += 1) {
    const port = 20000 + Math.floor(Math.random() * 12000);
    const server = net.createServer();
    const free = await new Promise((resolve) => {
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => resolve(true));
    });
    if (free) {
      await new Promise((resolve) => server.close(resolve));
      return port;
    }
  }
  throw new Error('no free port between 20000 and 32000 on 127.0.0.1');
}

/**
 * Start `command args` with stdout and stderr appended to LOG_DIR/NAME.log.
 * Returns { name, child, logFile, exited } where `exited` resolves with the
 * exit code (or signal name).
 */
export function startProcess(name, command, args, { logDir, env = {}, cwd } = {}) {
  mkdirSync(logDir, { recursive: true });
  const logFile = path.join(logDir, `${name}.log`);
  const log = createWriteStream(logFile, { flags: 'a' });
  const child = spawn(command, args, {
    cwd,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.pipe(log, { end: false });
  child.stderr.pipe(log, { end: false });
  running.add(child);
  const exited = new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      running.delete(child);
      resolve(code ?? signal);
    });
    child.once('error', (err) => {
      running.delete(child);
      log.write(`spawn error: ${err.message}\n`);
      resolve(`spawn error: ${err.message}`);
    });
  });
  return { name, child, logFile, exited };
}

/** SIGTERM, then SIGKILL after `graceMs` if it is still there. */
export async function stopProcess(proc, graceMs = 3000) {
  if (!running.has(proc.child)) return;
  proc.child.kill('SIGTERM');
  const gone = await Promise.race([proc.exited.then(() => true), sleep(graceMs).then(() => false)]);
  if (!gone) {
    proc.child.kill('SIGKILL');
    await proc.exited;
  }
}

/**
 * Poll `url` until `isReady(response)` holds; fail early if the process
 * exits, and after `timeoutMs`.
 */
export async function waitForHttp(proc, url, { timeoutMs = 30000, isReady = (r) => r.ok } = {}) {
  let exitedWith;
  proc.exited.then((code) => { exitedWith = code; });
  const deadline = Date.now() + timeoutMs;
  let lastError = 'no answer yet';
  while (Date.now() < deadline) {
    if (exitedWith !== undefined) {
      throw new Error(`${proc.name} exited (${exitedWith}) before it was ready; see ${proc.logFile}`);
    }
    try {
      const response = await fetch(url, { redirect: 'manual', signal: AbortSignal.timeout(2000) });
      await response.body?.cancel();
      if (isReady(response)) return;
      lastError = `status ${response.status}`;
    } catch (err) {
      lastError = err.cause?.code ?? err.message;
    }
    await sleep(100);
  }
  throw new Error(`${proc.name} not ready at ${url} after ${timeoutMs} ms (${lastError}); see ${proc.logFile}`);
}

/** Run a command to completion; resolve with its stdout, reject with its stderr. */
export function runCommand(command, args, { env = {}, cwd } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code === 0) resolve(stdout);
      else reject(new Error(`${path.basename(command)} ${args.join(' ')} exited ${code}: ${stderr.trim()}`));
    });
  });
}
