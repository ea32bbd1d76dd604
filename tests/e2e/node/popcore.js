// Runs calls through the official @alicloud/pop-core RPCClient and prints what each answered.
//
// stdin: {"endpoint", "accessKeyId", "accessKeySecret", "securityToken"?, "calls": [
//           {"version", "action", "params"?, "method"?,
//            "accessKeyId"?, "accessKeySecret"?, "securityToken"? (this call's own credentials)}]}
// stdout: one JSON array, one entry per call:
//           {"ok": true, "body"} or {"ok": false, "code", "status", "message", "body"}
// With method "POST" the client puts every parameter (the common ones and Signature included)
// in an application/x-www-form-urlencoded body and sends an empty query.
'use strict';

const RPCClient = require('@alicloud/pop-core').RPCClient;

async function main() {
  const chunks = [];
  for await (const chunk of process.stdin) {
    chunks.push(chunk);
  }
  const job = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  const clients = new Map();
  const client = (call) => {
    const config = {
      accessKeyId: call.accessKeyId || job.accessKeyId,
      accessKeySecret: call.accessKeySecret || job.accessKeySecret,
      securityToken: call.securityToken || job.securityToken,
      endpoint: job.endpoint,
      apiVersion: call.version,
    };
    const key = JSON.stringify(config);
    if (!clients.has(key)) {
      clients.set(key, new RPCClient(config));
    }
    return clients.get(key);
  };
  const results = [];
  for (const call of job.calls) {
    const opts = { method: call.method || 'POST', timeout: 30000 };
    try {
      const body = await client(call).request(call.action, call.params || {}, opts);
      results.push({ ok: true, body });
    } catch (err) {
      const status = err.entry && err.entry.response ? err.entry.response.statusCode : null;
      results.push({
        ok: false,
        code: err.code || err.name,
        status,
        message: String(err.data && err.data.Message ? err.data.Message : err.message),
        body: err.data || null,
      });
    }
  }
  process.stdout.write(JSON.stringify(results));
}

main().catch((err) => {
  process.stderr.write(`${err && err.stack ? err.stack : err}\n`);
  process.exit(1);
});
