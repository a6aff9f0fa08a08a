import { createPublicKey, verify } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { formatCheckpoint } from './checkpoint.js';
import {
  cosignCheckpoint,
  generateCosignerKey,
  kCosignatureBytes,
  verifyCosignature,
  verifyCosignedCheckpoint,
} from './cosignature.js';
import {
  appendSignatures,
  computeKeyId,
  cosignatureMessage,
  generateSignerKey,
  openNote,
  parseSignerKey,
  parseVerifierKey,
  signNote,
} from './note.js';

const body = formatCheckpoint({ origin: 'example.com/log', size: 5, rootHash: Buffer.alloc(32, 7), extensions: [] });

describe('tlog-cosignature/v1 (Ed25519, key type 0x04)', () => {
  const witness = generateCosignerKey('witness.example/w1');
  const signer = parseSignerKey(witness.signerKey);
  const verifier = parseVerifierKey(witness.verifierKey);

  it('makes type 0x04 keys whose id commits to the type', () => {
    expect(Buffer.from(witness.verifierKey.split('+')[2] as string, 'base64')[0]).toBe(0x04);
    expect(signer.keyType).toBe(0x04);
    expect(verifier.keyType).toBe(0x04);
    expect(signer.keyId.equals(verifier.keyId)).toBe(true);
  });

  it('signs u64be(time) || Ed25519("cosignature/v1\\ntime <t>\\n" || body) and verifies it', () => {
    const sig = cosignCheckpoint(body, 1679315147, signer);
    expect(sig.name).toBe('witness.example/w1');
    expect(sig.signature).toHaveLength(kCosignatureBytes);
    expect(sig.signature.readBigUInt64BE(0)).toBe(1679315147n);
    const msg = cosignatureMessage(body, 1679315147);
    expect(msg.toString()).toBe(`cosignature/v1\ntime 1679315147\n${body}`);
    const spki = Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), verifier.publicKey]);
    const key = createPublicKey({ key: spki, format: 'der', type: 'spki' });
    expect(verify(null, msg, key, sig.signature.subarray(8))).toBe(true);
    expect(verifyCosignature(body, sig, verifier)).toEqual({ timeSec: 1679315147 });
  });

  it('a cosigned checkpoint opens with the log key and the witness key', () => {
    const log = generateSignerKey('example.com/log');
    const note = signNote(body, [parseSignerKey(log.signerKey)]);
    const cosigned = appendSignatures(note, [cosignCheckpoint(body, 1700000000, signer)]);
    const logV = parseVerifierKey(log.verifierKey);
    expect(openNote(cosigned, [logV, verifier]).verifiedBy).toEqual([logV, verifier]);
    expect(openNote(cosigned, [verifier]).verifiedBy).toEqual([verifier]);
    // signNote with a cosigner key signs at the current time.
    const now = Math.floor(Date.now() / 1000);
    const direct = signNote(body, [signer]);
    const opened = openNote(direct, [verifier]);
    const t = Number(opened.verifiedSignatures[0]?.signature.readBigUInt64BE(0));
    expect(t).toBeGreaterThanOrEqual(now);
    expect(t).toBeLessThan(now + 600);
  });

  it('rejects an altered body, time, signature, or another witness key', () => {
    const sig = cosignCheckpoint(body, 1700000000, signer);
    const other = body.replace('\n5\n', '\n6\n');
    expect(() => verifyCosignature(other, sig, verifier)).toThrow(
      expect.objectContaining({ code: 'ERR_IRONLOG_SIGNATURE_INVALID' }),
    );
    const retimed = Buffer.from(sig.signature);
    retimed.writeBigUInt64BE(1700000001n, 0);
    expect(() => verifyCosignature(body, { ...sig, signature: retimed }, verifier)).toThrow(
      expect.objectContaining({ code: 'ERR_IRONLOG_SIGNATURE_INVALID' }),
    );
    const flipped = Buffer.from(sig.signature);
    flipped[40] = (flipped[40] ?? 0) ^ 1;
    expect(() => verifyCosignature(body, { ...sig, signature: flipped }, verifier)).toThrow(
      expect.objectContaining({ code: 'ERR_IRONLOG_SIGNATURE_INVALID' }),
    );
    const stranger = parseVerifierKey(generateCosignerKey('witness.example/w1').verifierKey);
    expect(() => verifyCosignature(body, sig, stranger)).toThrow(
      expect.objectContaining({ code: 'ERR_IRONLOG_SIGNATURE_INVALID' }),
    );
    expect(() => verifyCosignature(body, { ...sig, signature: sig.signature.subarray(0, 71) }, verifier)).toThrow(
      expect.objectContaining({ code: 'ERR_IRONLOG_NOTE_FORMAT' }),
    );
  });

  it('does not accept a plain note key as a cosigner, nor a cosignature as a plain signature', () => {
    const log = generateSignerKey('example.com/log');
    expect(() => cosignCheckpoint(body, 1, parseSignerKey(log.signerKey))).toThrow(
      expect.objectContaining({ code: 'ERR_IRONLOG_KEY_INVALID' }),
    );
    const sig = cosignCheckpoint(body, 1, signer);
    expect(() => verifyCosignature(body, sig, parseVerifierKey(log.verifierKey))).toThrow(
      expect.objectContaining({ code: 'ERR_IRONLOG_KEY_INVALID' }),
    );
    // The same Ed25519 key under type 0x01 has another key id, so a 0x04 line never matches a 0x01 key.
    expect(computeKeyId(verifier.name, 0x01, verifier.publicKey).equals(verifier.keyId)).toBe(false);
    expect(computeKeyId(verifier.name, 0x04, verifier.publicKey).equals(verifier.keyId)).toBe(true);
  });

  it('refuses a malformed checkpoint body or time', () => {
    expect(() => cosignCheckpoint('not a checkpoint\n', 1, signer)).toThrow(
      expect.objectContaining({ code: 'ERR_IRONLOG_NOTE_FORMAT' }),
    );
    expect(() => cosignCheckpoint(body, -1, signer)).toThrow(
      expect.objectContaining({ code: 'ERR_IRONLOG_INVALID_ARGUMENT' }),
    );
    expect(() => cosignCheckpoint(body, 1.5, signer)).toThrow(
      expect.objectContaining({ code: 'ERR_IRONLOG_INVALID_ARGUMENT' }),
    );
  });
});

describe('verifyCosignedCheckpoint (offline: log signature and k of n witnesses)', () => {
  const log = generateSignerKey('example.com/log');
  const logV = parseVerifierKey(log.verifierKey);
  const ws = ['w/1', 'w/2', 'w/3'].map((n) => generateCosignerKey(n));
  const wv = ws.map((w) => parseVerifierKey(w.verifierKey));
  const note = signNote(body, [parseSignerKey(log.signerKey)]);
  const cosigned = appendSignatures(note, [
    cosignCheckpoint(body, 100, parseSignerKey(ws[0]?.signerKey as string)),
    cosignCheckpoint(body, 200, parseSignerKey(ws[1]?.signerKey as string)),
    // An unknown witness: ignored.
    cosignCheckpoint(body, 300, parseSignerKey(generateCosignerKey('w/stranger').signerKey)),
  ]);

  it('counts distinct trusted witnesses and checks the quorum', () => {
    const r = verifyCosignedCheckpoint(cosigned, [logV], wv, 2);
    expect(r.checkpoint.size).toBe(5);
    expect(r.logKeys).toEqual([logV]);
    expect(r.witnesses.map((w) => [w.name, w.timeSec])).toEqual([
      ['w/1', 100],
      ['w/2', 200],
    ]);
    expect(() => verifyCosignedCheckpoint(cosigned, [logV], wv, 3)).toThrow(
      expect.objectContaining({ code: 'ERR_IRONLOG_WITNESS_QUORUM' }),
    );
    expect(verifyCosignedCheckpoint(note, [logV]).witnesses).toEqual([]);
  });

  it('rejects a forged cosignature of a trusted witness, and a note without the log signature', () => {
    const sig = cosignCheckpoint(body, 100, parseSignerKey(ws[2]?.signerKey as string));
    const forged = Buffer.from(sig.signature);
    forged[20] = (forged[20] ?? 0) ^ 0x80;
    const bad = appendSignatures(cosigned, [{ ...sig, signature: forged }]);
    expect(() => verifyCosignedCheckpoint(bad, [logV], wv, 2)).toThrow(
      expect.objectContaining({ code: 'ERR_IRONLOG_SIGNATURE_INVALID' }),
    );
    const otherLog = parseVerifierKey(generateSignerKey('example.com/log').verifierKey);
    expect(() => verifyCosignedCheckpoint(cosigned, [otherLog], wv, 0)).toThrow(
      expect.objectContaining({ code: 'ERR_IRONLOG_SIGNATURE_INVALID' }),
    );
    expect(() => verifyCosignedCheckpoint(cosigned, [logV], wv, 4)).toThrow(
      expect.objectContaining({ code: 'ERR_IRONLOG_INVALID_ARGUMENT' }),
    );
  });
});
