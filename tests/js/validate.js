#!/usr/bin/env node
// Checks the signatures of SNS message documents with sns-validator, AWS's own verifier
// for Node, independent of Herald's code.
//
//   node validate.js [--cert-host HOST[:PORT]] [FILE]
//
// Reads the documents from FILE, or stdin without one: a JSON array, one JSON document, or
// one JSON document per line. Prints one JSON result per document, in order:
// {"index", "ok": true, "type", "messageId"} or {"index", "ok": false, "error"}. Exits 0
// only if every document is valid, 1 if any is not, 2 on a usage error or when there is
// nothing to check.
//
// sns-validator accepts a SigningCertURL only if its scheme is https, its path ends in
// ".pem" and its host matches a RegExp; the host it tests is url.parse(...).host, which
// includes the port. --cert-host turns an exact host (with the port, if the URL has one)
// into that RegExp; without it, sns-validator's default (sns.<region>.amazonaws.com)
// applies. The certificate is fetched with Node's https module, so a private CA is trusted
// through NODE_EXTRA_CA_CERTS.

"use strict";

const fs = require("fs");
const MessageValidator = require("sns-validator");

const USAGE = "usage: node validate.js [--cert-host HOST[:PORT]] [FILE]";

function parseArgs(argv) {
  const options = { certHost: null, file: null };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--cert-host" && i + 1 < argv.length) {
      options.certHost = argv[++i];
    } else if (!argv[i].startsWith("-") && options.file === null) {
      options.file = argv[i];
    } else {
      throw new Error(USAGE);
    }
  }
  return options;
}

function exactly(text) {
  return new RegExp("^" + text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&") + "$");
}

// The input as a whole is a JSON array of documents or one document (SNS indents its
// documents over several lines); failing that, one document per line. Each entry is a
// document, or an Error for a line that is not JSON, so that one bad line is reported in
// its place instead of hiding the others.
function documents(text) {
  const trimmed = text.trim();
  try {
    const whole = JSON.parse(trimmed);
    return Array.isArray(whole) ? whole : [whole];
  } catch (err) {
    // Not one JSON value: JSON lines.
  }
  return trimmed
    .split(/\r?\n/)
    .filter((line) => line.trim() !== "")
    .map((line) => {
      try {
        return JSON.parse(line);
      } catch (err) {
        return err;
      }
    });
}

function validate(validator, document) {
  return new Promise((resolve) => {
    if (document instanceof Error) {
      resolve({ ok: false, error: "not JSON: " + document.message });
      return;
    }
    if (document === null || typeof document !== "object" || Array.isArray(document)) {
      resolve({ ok: false, error: "not a JSON object" });
      return;
    }
    try {
      validator.validate(document, (err, message) => {
        if (err) {
          resolve({ ok: false, error: err.message || String(err) });
        } else {
          resolve({ ok: true, type: message.Type, messageId: message.MessageId });
        }
      });
    } catch (err) {
      resolve({ ok: false, error: err.message || String(err) });
    }
  });
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  const input = fs.readFileSync(options.file === null ? 0 : options.file, "utf8");
  const all = documents(input);
  if (!Array.isArray(all) || all.length === 0) {
    throw new Error("no documents to validate");
  }
  const validator = new MessageValidator(
    options.certHost === null ? undefined : exactly(options.certHost),
  );
  let valid = true;
  for (let index = 0; index < all.length; index++) {
    const result = await validate(validator, all[index]);
    valid = valid && result.ok;
    process.stdout.write(JSON.stringify({ index, ...result }) + "\n");
  }
  return valid ? 0 : 1;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write("validate.js: " + err.message + "\n");
    process.exitCode = 2;
  },
);
