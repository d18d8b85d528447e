#!/usr/bin/env node
// A small MCP server for the client's tests, misbehaving on request. Usage:
//   node fake_mcp_server.js MODE
// MODE: good | crash-on-call | nonsense-on-call | wrong-id | old-version | exit-at-start
//       | silent (never answers anything)
'use strict';
const readline = require('node:readline');

const mode = process.argv[2] || 'good';
const send = (message) => process.stdout.write(JSON.stringify({ jsonrpc: '2.0', ...message }) + '\n');

if (mode === 'exit-at-start') {
  process.stderr.write('fatal: missing API token\n');
  process.exit(2);
}

// What the client answered to the requests this server sent it, by id.
const clientReplies = {};
let nextServerId = 1000;

const pages = [
  { tools: [{ name: 'shout', description: 'upper-cases text',
              inputSchema: { type: 'object', properties: { text: { type: 'string' } },
                             required: ['text'] } }],
    nextCursor: 'page-2' },
  { tools: [{ name: 'fail', description: 'always fails', inputSchema: { type: 'object' } },
            { name: 'slow', description: 'answers after 1 s', inputSchema: { type: 'object' } },
            { name: 'replies', description: 'what the client answered',
              inputSchema: { type: 'object' } },
            { name: 'bad/name', description: 'not a valid perdiem name',
              inputSchema: { type: 'object' } }] },
];

function callTool(id, params) {
  if (mode === 'crash-on-call') {
    process.stderr.write('panic: tool crashed\n');
    process.exit(3);
  }
  if (mode === 'nonsense-on-call') {
    process.stdout.write('this is not json\n');
    return;
  }
  if (mode === 'wrong-id') {
    send({ id: 999, result: { content: [] } });
    return;
  }
  const args = params.arguments || {};
  switch (params.name) {
    case 'shout':
      // A notification and a server request arrive before the answer, as real servers do.
      send({ method: 'notifications/message', params: { level: 'info', data: 'shouting' } });
      send({ id: nextServerId++, method: 'ping' });
      send({ id: nextServerId++, method: 'sampling/createMessage', params: {} });
      send({ id, result: { content: [{ type: 'text', text: String(args.text).toUpperCase() }] } });
      return;
    case 'fail':
      send({ id, result: { content: [{ type: 'text', text: 'the database is locked' }],
                           isError: true } });
      return;
    case 'slow':
      setTimeout(() => send({ id, result: { content: [{ type: 'text', text: 'late' }] } }), 1000);
      return;
    case 'replies':
      send({ id, result: { content: [], structuredContent: clientReplies } });
      return;
    default:
      send({ id, error: { code: -32602, message: 'Unknown tool: ' + params.name } });
  }
}

const lines = readline.createInterface({ input: process.stdin });
lines.on('line', (line) => {
  const message = JSON.parse(line);
  if (message.method === undefined) {  // the client's answer to one of our requests
    clientReplies[message.id] = message.error ? { error: message.error.code } : { result: message.result };
    return;
  }
  if (mode === 'silent') return;
  switch (message.method) {
    case 'initialize':
      send({ id: message.id, result: {
        protocolVersion: mode === 'old-version' ? '1999-01-01' : message.params.protocolVersion,
        capabilities: { tools: { listChanged: true } },
        serverInfo: { name: 'fake', version: '1.0.0' } } });
      return;
    case 'notifications/initialized':
      send({ method: 'notifications/tools/list_changed' });
      return;
    case 'tools/list': {
      const page = message.params && message.params.cursor === 'page-2' ? 1 : 0;
      send({ id: message.id, result: pages[page] });
      return;
    }
    case 'tools/call':
      callTool(message.id, message.params);
      return;
    default:
      if (message.id !== undefined) {
        send({ id: message.id, error: { code: -32601, message: 'Method not found' } });
      }
  }
});
lines.on('close', () => process.exit(0));
