// An independent verifier of perdiem's batched receipts (batch version 2), written from
// docs/wallet.md ("Receipts in batches") alone, with noble's keccak and secp256k1 rather
// than anything of perdiem's. The test suite runs it on receipts perdiem wrote, so the
// documented layout, fold and signed message are checked against the code that signs.
//
//   node verify_receipts.mjs FILE...   (each a receipt or an array of receipts, as
//                                       `perdiem wallet receipts --json` prints them)
//
// Every receipt must verify, and must stop verifying when any one of its fields is
// changed (so a verifier that accepted anything would fail here too). Prints one line per
// file and exits 0, or names each problem and exits 1.
import { readFileSync } from 'node:fs';
import { secp256k1 } from '@noble/curves/secp256k1';
import { keccak_256 } from '@noble/hashes/sha3';
import { bytesToHex, concatBytes, hexToBytes, utf8ToBytes } from '@noble/hashes/utils';

const hex = (text) => hexToBytes(text.replace(/^0x/, ''));

// "0.000001" USD -> 1000n nano-USD.
function nanos(usd) {
  const match = /^(\d+)(?:\.(\d{1,9}))?$/.exec(usd);
  if (!match) throw new Error(`not an amount of USD: ${usd}`);
  return BigInt(match[1]) * 1_000_000_000n + BigInt((match[2] ?? '').padEnd(9, '0'));
}

function int64(value) {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigInt64(0, BigInt(value));  // big-endian, two's complement
  return out;
}

function text(value) {
  const bytes = utf8ToBytes(value);
  const length = new Uint8Array([bytes.length >> 8, bytes.length & 0xff]);
  return concatBytes(length, bytes);
}

function leafV2(r) {
  const fields = concatBytes(
      text(r.id), hex(r.wallet), new Uint8Array([r.status === 'final' ? 1 : 0]), text(r.run),
      int64(r.step), text(r.provider), text(r.model), int64(r.input_tokens),
      int64(r.output_tokens), int64(r.cached_input_tokens), int64(nanos(r.prices.input)),
      int64(nanos(r.prices.output)), int64(nanos(r.prices.cached_input)),
      int64(nanos(r.prices.request)), int64(nanos(r.cost)), int64(r.time), hex(r.request_hash),
      hex(r.response_hash));
  return keccak_256(concatBytes(new Uint8Array([0x02]), fields));
}

function root(leaf, index, size, proof) {
  let hash = leaf;
  let at = index;
  let width = size;
  let next = 0;
  while (width > 1) {
    if ((at ^ 1) < width) {
      if (next === proof.length) return null;
      const sibling = hex(proof[next++]);
      const pair = at % 2 === 1 ? [sibling, hash] : [hash, sibling];
      hash = keccak_256(concatBytes(new Uint8Array([0x01]), ...pair));
    }
    at = Math.floor(at / 2);
    width = Math.floor((width + 1) / 2);
  }
  return next === proof.length ? hash : null;
}

// EIP-55: a letter is uppercase when its nibble of keccak256(lowercase hex) is 8 or more.
function checksummed(address) {
  const lower = address.replace(/^0x/, '').toLowerCase();
  const hash = bytesToHex(keccak_256(utf8ToBytes(lower)));
  let out = '0x';
  for (let i = 0; i < lower.length; ++i) {
    out += parseInt(hash[i], 16) >= 8 ? lower[i].toUpperCase() : lower[i];
  }
  return out;
}

function signer(message, signature) {
  const bytes = hex(signature);
  const prefix = utf8ToBytes(`\x19Ethereum Signed Message:\n${utf8ToBytes(message).length}`);
  const digest = keccak_256(concatBytes(prefix, utf8ToBytes(message)));
  const v = bytes[64] >= 27 ? bytes[64] - 27 : bytes[64];
  const point = secp256k1.Signature.fromCompact(bytes.slice(0, 64))
                    .addRecoveryBit(v)
                    .recoverPublicKey(digest);
  const key = point.toRawBytes(false).slice(1);  // X || Y
  return checksummed(bytesToHex(keccak_256(key).slice(12)));
}

// Why `r` does not verify, or null.
function problem(r) {
  const batch = r.batch;
  if (!batch || batch.version !== 2) return 'not a version 2 batched receipt';
  if (!(Number.isInteger(batch.index) && batch.index >= 0 && batch.index < batch.size)) {
    return 'its place is outside its batch';
  }
  if (checksummed(r.wallet) !== r.wallet) return 'the wallet is not written in EIP-55 case';
  const reached = root(leafV2(r), batch.index, batch.size, batch.proof);
  if (reached === null) return 'its proof has the wrong length for its place';
  if ('0x' + bytesToHex(reached) !== batch.root) return 'its proof does not reach its root';
  const message = `perdiem receipt batch v2\nwallet: ${r.wallet}\nroot: ${batch.root}\n` +
                  `size: ${batch.size}`;
  if (signer(message, r.signature) !== r.wallet) return 'the batch is not signed by its wallet';
  return null;
}

// One change per field the leaf covers, and to the batch, the wallet and the signature.
const tamperings = [
  (r) => { r.id += '0'; }, (r) => { r.status = r.status === 'final' ? 'estimate' : 'final'; },
  (r) => { r.run += 'x'; }, (r) => { r.step += 1; }, (r) => { r.provider += 'x'; },
  (r) => { r.model += 'x'; }, (r) => { r.input_tokens += 1; }, (r) => { r.output_tokens += 1; },
  (r) => { r.cached_input_tokens += 1; }, (r) => { r.prices.input += '1'; },
  (r) => { r.prices.output += '1'; }, (r) => { r.prices.cached_input += '1'; },
  (r) => { r.prices.request += '1'; }, (r) => { r.cost += '1'; }, (r) => { r.time += 1; },
  (r) => { r.request_hash = r.response_hash; }, (r) => { r.response_hash = r.request_hash; },
  (r) => { r.batch.index = (r.batch.index + 1) % Math.max(r.batch.size, 2); },
  (r) => { r.batch.size += 1; },
  (r) => { r.batch.root = r.request_hash; },
  (r) => { r.batch.proof.push(r.request_hash); },
  (r) => { r.wallet = checksummed('0x' + '11'.repeat(20)); },
  (r) => { r.signature = r.signature.slice(0, 4) + (r.signature[4] === 'a' ? 'b' : 'a') +
                         r.signature.slice(5); },
];

let failures = 0;
for (const file of process.argv.slice(2)) {
  const before = failures;
  const document = JSON.parse(readFileSync(file, 'utf8'));
  const receipts = Array.isArray(document) ? document : [document];
  if (receipts.length === 0) {
    console.log(`${file}: no receipts`);
    ++failures;
    continue;
  }
  for (const receipt of receipts) {
    const why = problem(receipt);
    if (why) {
      console.log(`${file}: receipt ${receipt.id} does not verify: ${why}`);
      ++failures;
    }
    tamperings.forEach((tamper, n) => {
      const copy = structuredClone(receipt);
      tamper(copy);
      let accepted = false;
      try {
        accepted = problem(copy) === null;
      } catch {
        // An unparseable field (a price with ten decimals) is refused too.
      }
      if (accepted) {
        console.log(`${file}: receipt ${receipt.id} still verifies after change ${n + 1}`);
        ++failures;
      }
    });
  }
  if (failures === before) {
    console.log(`${file}: ${receipts.length} receipts verify, and none survives a change`);
  }
}
process.exit(failures === 0 ? 0 : 1);
