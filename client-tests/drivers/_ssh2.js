'use strict';
// Driver for node's ssh2 client (run through ./ssh2). See README.md.
//
// new Client().connect({host, port, username, password, privateKey,
// tryKeyboard, readyTimeout = --timeout, hostVerifier, debug}) and exec(CMD)
// with stdin ended at once. ssh2's events are reported as they come, one
// line each (`ssh2 event error: Name: message (level=L, code=C)`, `ssh2
// event close`, ...); when the run failed, ssh2's debug trace follows as
// `ssh2 debug: ...` lines, and the driver exits 255.
//
// ssh2 has no known_hosts of its own: hostVerifier gets the raw host key
// and the driver checks it against FILE (OpenSSH format, "[host]:port" for a
// port other than 22, hashed |1| names understood). A key of a type FILE has
// no entry for is accepted and appended (OpenSSH's accept-new); a key that
// differs from the entry of its type makes hostVerifier return false, and
// ssh2 says "Host denied (verification failed)".
//
// --opt kex|cipher|serverHostKey|hmac|compress=LIST sets ssh2's
// `algorithms` option: LIST replaces ssh2's defaults, +LIST appends to
// them, -LIST removes from them, ^LIST puts first (ssh2's own
// append/remove/prepend).

const crypto = require('crypto');
const fs = require('fs');
const path = require('path');

const CLIENT = 'ssh2';
const EXIT_FAILURE = 255;
const EXIT_GAVE_UP = 124;
const EXIT_NOT_INSTALLED = 77;
const EXIT_USAGE = 2;
const ALG_OPTS = ['kex', 'cipher', 'serverHostKey', 'hmac', 'compress'];
const MODULE_DIR = path.join(__dirname, '..', 'node', 'node_modules', 'ssh2');

function say(msg) {
  process.stderr.write(`sshmock-driver: ${CLIENT}: ${msg}\n`);
}

function usage(msg) {
  say(msg);
  process.exit(EXIT_USAGE);
}

function loadSsh2() {
  try {
    return {
      ssh2: require(MODULE_DIR),
      version: JSON.parse(fs.readFileSync(path.join(MODULE_DIR, 'package.json'))).version,
    };
  } catch (err) {
    process.stderr.write(`sshmock-driver: ${CLIENT} not installed: ${err.code || err.message}`
                         + ' (run npm install in client-tests/node)\n');
    process.exit(EXIT_NOT_INSTALLED);
  }
}

function parseArgs(argv) {
  const a = { key: [], opt: [] };
  const single = ['host', 'port', 'user', 'password', 'known-hosts', 'timeout', 'command'];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--'))
      usage(`unexpected argument ${JSON.stringify(arg)}`);
    let name = arg.slice(2);
    let value;
    const eq = name.indexOf('=');
    if (eq !== -1) {
      value = name.slice(eq + 1);
      name = name.slice(0, eq);
    } else {
      if (i + 1 >= argv.length)
        usage(`${arg} needs a value`);
      value = argv[++i];
    }
    if (name === 'key' || name === 'opt')
      a[name].push(value);
    else if (single.includes(name))
      a[name] = value;
    else
      usage(`unknown option ${arg}`);
  }
  for (const need of ['host', 'port', 'user', 'known-hosts', 'timeout', 'command']) {
    if (a[need] === undefined)
      usage(`--${need} is required`);
  }
  a.port = Number(a.port);
  a.timeout = Number(a.timeout);
  if (!Number.isInteger(a.port) || a.port < 1 || a.port > 65535)
    usage('--port must be 1..65535');
  if (!(a.timeout > 0))
    usage('--timeout must be more than 0');
  a.knownHosts = path.resolve(a['known-hosts']);
  return a;
}

function algorithms(opts) {
  const algs = {};
  for (const o of opts) {
    const eq = o.indexOf('=');
    if (eq <= 0)
      usage(`--opt ${JSON.stringify(o)} is not KEY=VALUE`);
    const key = o.slice(0, eq);
    let value = o.slice(eq + 1);
    if (!ALG_OPTS.includes(key))
      usage(`--opt ${key}: not one of ${ALG_OPTS.join(', ')}`);
    const op = { '+': 'append', '-': 'remove', '^': 'prepend' }[value[0]];
    if (op)
      value = value.slice(1);
    const list = value.split(',').filter((s) => s.length > 0);
    algs[key] = op ? { [op]: list } : list;
  }
  return algs;
}

// --- known_hosts -----------------------------------------------------------

function hostPattern(host, port) {
  return port === 22 ? host : `[${host}]:${port}`;
}

function nameMatches(field, pattern) {
  if (field.startsWith('|1|')) {
    const [, , salt, hash] = field.split('|');
    if (!salt || !hash)
      return false;
    const h = crypto.createHmac('sha1', Buffer.from(salt, 'base64')).update(pattern).digest();
    return h.equals(Buffer.from(hash, 'base64'));
  }
  return field.split(',').includes(pattern);
}

function keyType(blob) {
  if (blob.length < 4)
    return '';
  const n = blob.readUInt32BE(0);
  return blob.slice(4, 4 + n).toString('latin1');
}

// The entries of FILE for host:port, as {type, blob}.
function entries(file, pattern) {
  let text;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    return [];
  }
  const out = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith('@'))
      continue;
    const f = line.split(/\s+/);
    if (f.length < 3 || !nameMatches(f[0], pattern))
      continue;
    out.push({ type: f[1], blob: Buffer.from(f[2], 'base64') });
  }
  return out;
}

function makeHostVerifier(file, pattern) {
  return (blob) => {
    const type = keyType(blob);
    const same = entries(file, pattern).filter((e) => e.type === type);
    if (same.length > 0)
      return same.some((e) => e.blob.equals(blob));
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.appendFileSync(file, `${pattern} ${type} ${blob.toString('base64')}\n`);
    return true;
  };
}

// --- main ------------------------------------------------------------------

function main() {
  const argv = process.argv.slice(2);
  const { ssh2, version } = loadSsh2();
  if (argv.length === 1 && argv[0] === '--version') {
    process.stdout.write(`${CLIENT} ${version} (node ${process.version})\n`);
    process.exit(0);
  }
  const a = parseArgs(argv);
  const algs = algorithms(a.opt);
  const keys = a.key.map((k) => {
    try {
      return fs.readFileSync(k);
    } catch (err) {
      return usage(`--key ${k}: ${err.message}`);
    }
  });

  // What ssh2 itself says: its events, as they come, and its debug trace
  // (the strings ssh2 passes to the `debug` option), printed when the run
  // failed. ssh2 ends some failed connections with no 'error' at all (a
  // server's DISCONNECT with reason 11 "by application", a close right
  // after the identification), and only these say what it saw.
  const trace = [];
  const event = (name, data) => {
    process.stderr.write(data === undefined ? `${CLIENT} event ${name}\n`
                                            : `${CLIENT} event ${name}: ${data}\n`);
  };

  const limit = 2 * a.timeout + 10;
  let done = false;
  const finish = (status, failed) => {
    if (done)
      return;
    done = true;
    if (failed) {
      for (const line of trace)
        process.stderr.write(`${CLIENT} debug: ${line}\n`);
    }
    process.exit(status);
  };
  setTimeout(() => {
    say(`gave up after ${limit} s (--timeout): the client had not finished`);
    finish(EXIT_GAVE_UP, true);
  }, limit * 1000);

  const cfg = {
    host: a.host,
    port: a.port,
    username: a.user,
    readyTimeout: Math.round(a.timeout * 1000),
    hostVerifier: makeHostVerifier(a.knownHosts, hostPattern(a.host, a.port)),
    algorithms: algs,
    debug: (msg) => trace.push(String(msg)),
  };
  if (a.password !== undefined) {
    cfg.password = a.password;
    cfg.tryKeyboard = true;
  }
  if (keys.length === 1) {
    cfg.privateKey = keys[0];
  } else if (keys.length > 1) {
    // ssh2 takes one privateKey; more go through an explicit auth list.
    const list = [{ type: 'none', username: a.user }];
    for (const key of keys)
      list.push({ type: 'publickey', username: a.user, key });
    if (a.password !== undefined) {
      list.push({ type: 'password', username: a.user, password: a.password });
      list.push({ type: 'keyboard-interactive', username: a.user,
                  prompt: (n, i, l, prompts, reply) => reply(prompts.map(() => a.password)) });
    }
    cfg.authHandler = list;
  }

  // The run's outcome: the command's exit status once it has run, else a
  // failure. The driver exits on ssh2's 'close' (after 'error' and 'end'
  // have been reported), or shortly after an 'error' should 'close' not
  // follow.
  let status = EXIT_FAILURE;
  let ran = false;
  const conn = new ssh2.Client();
  conn.on('keyboard-interactive', (name, instr, lang, prompts, reply) => {
    reply(prompts.map(() => a.password));
  });
  conn.on('greeting', (text) => event('greeting', JSON.stringify(text)));
  conn.on('handshake', (negotiated) => event('handshake', JSON.stringify(negotiated)));
  conn.on('banner', (text) => event('banner', JSON.stringify(text)));
  conn.on('error', (err) => {
    const props = [];
    if (err.level !== undefined)
      props.push(`level=${err.level}`);
    if (err.code !== undefined)
      props.push(`code=${err.code}`);
    event('error', `${err.name}: ${err.message}` + (props.length ? ` (${props.join(', ')})` : ''));
    if (!ran)
      setTimeout(() => finish(EXIT_FAILURE, true), 2000);
  });
  conn.on('end', () => event('end'));
  conn.on('close', () => {
    event('close');
    finish(ran ? status : EXIT_FAILURE, !ran);
  });
  conn.on('ready', () => {
    event('ready');
    conn.exec(a.command, (err, stream) => {
      if (err) {
        event('exec error', `${err.name}: ${err.message}`);
        conn.end();
        return;
      }
      stream.on('exit', (code) => {
        if (typeof code === 'number' && code >= 0)
          status = code;
      });
      stream.on('data', (data) => process.stdout.write(data));
      stream.stderr.on('data', (data) => process.stderr.write(data));
      stream.on('close', () => {
        ran = true;
        conn.end();
        setTimeout(() => finish(status, false), 2000);
      });
      stream.end();   // stdin is /dev/null
    });
  });
  try {
    conn.connect(cfg);
  } catch (err) {
    // ssh2 checks its configuration (algorithm names, keys) before it connects.
    say(`bad configuration: ${err.name}: ${err.message}`);
    finish(EXIT_USAGE, false);
  }
}

main();
