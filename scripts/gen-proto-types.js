#!/usr/bin/env node
// Generates TypeScript types for the CRI v1 proto (proto/api.proto) into
// src/generated/ at build time, with the same loader options peapod uses at
// run time (src/server/proto.ts): field names as written in the proto,
// int64 as decimal strings, enums as their names.
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const out = path.join(root, 'src', 'generated');
fs.rmSync(out, { recursive: true, force: true });
fs.mkdirSync(out, { recursive: true });
execFileSync(process.execPath, [
  require.resolve('@grpc/proto-loader/build/bin/proto-loader-gen-types.js'),
  // The file comes first: --includeDirs is an array option and would take it.
  'api.proto',
  '--grpcLib=@grpc/grpc-js',
  '--keepCase',
  '--longs=String',
  '--enums=String',
  '--defaults',
  '--oneofs',
  '--outDir', out,
  `--includeDirs=${path.join(root, 'proto')}`,
], { stdio: 'inherit' });
