import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decode, encode } from '../rpc/codec.js';
import { ValidationError } from '../rpc/errors.js';
import {
  ClockDescriptor, Codec, KitchenDescriptor, Priority, type Blob, type Job, type Stats,
} from '../rpc/examples/kitchen.stubs.js';

const proc = (name: string) => {
  const p = KitchenDescriptor.procedures.find((q) => q.name === name);
  if (p === undefined) throw new Error(`no procedure ${name}`);
  return p;
};
const submit = proc('submit');
const find = proc('find');
const compress = proc('compress');
const ping = proc('ping');
const stats = proc('stats');
const echo = proc('echo');

const blob = (over: Partial<Blob> = {}): Blob => ({ key: 7n, data: new Uint8Array([1, 2, 3]), codec: Codec.Zstd, ...over });
const job = (over: Partial<Job> = {}): Job => ({
  id: 1, name: 'a', priority: Priority.High, inputs: [blob()], weights: [0.5], children: [], urgent: false, ...over,
});
const goodStats = (): Stats => ({
  i8: -128, i16: 32767, i32: -1, i64: -(2n ** 63n), u8: 255, u16: 0, u32: 2 ** 32 - 1, u64: 2n ** 64n - 1n,
  f32: 1.5, f64: -Infinity, matrix: [['a'], [], ['b', 'c']],
});

/** Runs `f` and returns the ValidationError it throws (fails if it throws anything else or nothing). */
function rejection(f: () => unknown): { path: string; expected: string; message: string } {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(ValidationError);
    const v = e as ValidationError;
    return { path: v.path, expected: v.expected, message: v.message };
  }
  throw new Error('expected a ValidationError');
}

describe('generated validators', () => {
  it('accept valid arguments and results and return them normalised', () => {
    expect(submit.checkArgs([job()])).toEqual([job()]);
    expect(submit.checkResult(3)).toBe(3);
    expect(compress.checkArgs([blob({ label: 'x' }), Codec.None])).toEqual([blob({ label: 'x' }), 0]);
    expect(stats.checkResult(goodStats())).toEqual(goodStats());
    expect(stats.checkArgs([true, undefined])).toEqual([true, undefined]);
    expect(echo.checkArgs([[job({ children: [job({ parent: job() })] })], Buffer.from('hi'), -5n, 0n])[0])
      .toEqual([job({ children: [job({ parent: job() })] })]);
  });

  it('do not mutate or alias validated structs', () => {
    const input = job({ deadlineNs: 5n });
    const [out] = submit.checkArgs([input]) as [Job];
    expect(out).not.toBe(input);
    expect(out.inputs[0]).not.toBe(input.inputs[0]);
    expect(out).toEqual(input);
  });

  it('treat an absent, undefined or null optional field as absent', () => {
    for (const label of [undefined, null]) {
      const [b] = compress.checkArgs([{ ...blob(), label }, Codec.None]) as [Blob];
      expect(b.label).toBeUndefined();
    }
    expect(find.checkResult(null)).toBeUndefined();
    expect(find.checkResult(undefined)).toBeUndefined();
    expect(stats.checkArgs([false, null])).toEqual([false, undefined]);
  });

  it('accept a safe-integer number for a 64-bit field and normalise it to bigint', () => {
    const [b] = compress.checkArgs([{ ...blob(), key: 2 ** 53 - 1 }, Codec.None]) as [Blob];
    expect(b.key).toBe(2n ** 53n - 1n);
    expect(echo.checkArgs([[], new Uint8Array(), -3, 4]).slice(2)).toEqual([-3n, 4n]);
    expect(ClockDescriptor.procedures[0]!.checkResult(12)).toBe(12n);
  });

  it('reject a wrong type with the path and the declared type', () => {
    expect(rejection(() => submit.checkArgs([job({ name: 5 as unknown as string })]))).toEqual({
      path: 'args[0].name', expected: 'string', message: 'args[0].name: expected string, got number 5',
    });
    expect(rejection(() => compress.checkArgs([blob({ data: [1, 2] as unknown as Uint8Array }), 0])).path).toBe('args[0].data');
    expect(rejection(() => submit.checkArgs([job({ urgent: 1 as unknown as boolean })])).expected).toBe('bool');
    expect(rejection(() => submit.checkArgs([[job()]])).expected).toBe('Job');
    expect(rejection(() => submit.checkArgs([new Map()])).expected).toBe('Job');
    expect(rejection(() => stats.checkResult({ ...goodStats(), f64: '1' })).path).toBe('result.f64');
  });

  it('reject a missing required field', () => {
    const { urgent: _, ...partial } = job();
    expect(rejection(() => submit.checkArgs([partial]))).toEqual({
      path: 'args[0].urgent', expected: 'bool', message: 'args[0].urgent: expected bool, got undefined',
    });
  });

  it('reject an extra field', () => {
    expect(rejection(() => submit.checkArgs([{ ...job(), colour: 'red' }]))).toEqual({
      path: 'args[0].colour', expected: 'no such field in Job', message: 'args[0].colour: expected no such field in Job, got "red"',
    });
  });

  it('reject out-of-range and non-integer numbers for every integer width', () => {
    expect(rejection(() => submit.checkArgs([job({ id: -1 })])).path).toBe('args[0].id');
    expect(rejection(() => submit.checkArgs([job({ id: 2 ** 32 })])).expected).toBe('uint32');
    expect(rejection(() => submit.checkArgs([job({ id: 1.5 })])).message).toBe('args[0].id: expected uint32, got number 1.5');
    expect(rejection(() => submit.checkArgs([job({ id: NaN })])).path).toBe('args[0].id');
    const cases: [keyof Stats, unknown][] = [
      ['i8', 128], ['i8', -129], ['i16', 32768], ['i32', 2 ** 31], ['u8', 256], ['u16', -1], ['u32', 2 ** 32],
      ['i64', 2n ** 63n], ['i64', -(2n ** 63n) - 1n], ['u64', -1n], ['u64', 2n ** 64n], ['u64', 2 ** 53], ['i64', 0.5],
      ['i32', 1n],
    ];
    for (const [field, value] of cases) {
      expect(rejection(() => stats.checkResult({ ...goodStats(), [field]: value })).path).toBe(`result.${field}`);
    }
  });

  it('reject a string with a lone UTF-16 surrogate (UTF-8 on the wire would turn it into U+FFFD)', () => {
    for (const name of ['\ud800', 'a\udfffb', 'x\ud83d']) {
      expect(rejection(() => submit.checkArgs([job({ name })]))).toMatchObject({
        path: 'args[0].name', expected: 'a string without lone UTF-16 surrogates',
      });
    }
    expect(rejection(() => stats.checkResult({ ...goodStats(), matrix: [['ok', '\udc00']] })).path).toBe('result.matrix[0][1]');
    // A surrogate pair is one well-formed character, and goes through.
    expect(submit.checkArgs([job({ name: '\ud83d\ude00' })])).toEqual([job({ name: '😀' })]);
  });

  it('reject a float32 value float32 cannot hold, instead of letting it become Infinity', () => {
    for (const f32 of [3.5e38, -1e39, Number.MAX_VALUE]) {
      expect(rejection(() => stats.checkResult({ ...goodStats(), f32 }))).toMatchObject({
        path: 'result.f32', expected: 'float32 (finite values up to ±3.4028235e38)',
      });
    }
    // The largest float32, values that round to it, tiny values, infinities and NaN are float32 values.
    for (const f32 of [3.4028234663852886e38, 3.4028235e38, 1e-45, Infinity, -Infinity, NaN]) {
      expect(() => stats.checkResult({ ...goodStats(), f32 })).not.toThrow();
    }
    // float64 (double) takes any number.
    expect(() => stats.checkResult({ ...goodStats(), f64: Number.MAX_VALUE })).not.toThrow();
  });

  it('reject a value outside an enum', () => {
    expect(rejection(() => submit.checkArgs([job({ priority: 2 as Priority })]))).toMatchObject({ path: 'args[0].priority', expected: 'Priority' });
    expect(rejection(() => compress.checkArgs([blob(), 3])).path).toBe('args[1]');
  });

  it('name nested paths through arrays and structs', () => {
    const bad = job({ children: [job(), job({ inputs: [blob(), blob(), blob({ label: 7 as unknown as string })] })] });
    expect(rejection(() => submit.checkArgs([bad])).path).toBe('args[0].children[1].inputs[2].label');
    expect(rejection(() => echo.checkArgs([[job({ parent: job({ weights: [1, 'x' as unknown as number] }) })], new Uint8Array(), 0n, 0n])).path)
      .toBe('args[0][0].parent.weights[1]');
    expect(rejection(() => stats.checkResult({ ...goodStats(), matrix: [['a'], ['b', 3]] })).path).toBe('result.matrix[1][1]');
    expect(rejection(() => echo.checkResult([job(), 5])).path).toBe('result[1]');
  });

  it('reject an array longer than its declared maximum', () => {
    const inputs = Array.from({ length: 17 }, () => blob());
    expect(rejection(() => submit.checkArgs([job({ inputs })]))).toMatchObject({ path: 'args[0].inputs', expected: 'at most 16 elements' });
    expect(submit.checkArgs([job({ inputs: inputs.slice(1) })])).toHaveLength(1);
  });

  it('reject the wrong number of arguments or a non-array argument list', () => {
    expect(rejection(() => submit.checkArgs([]))).toMatchObject({ path: 'args', expected: '1 argument' });
    expect(rejection(() => ping.checkArgs([1])).expected).toBe('0 arguments');
    expect(rejection(() => submit.checkArgs({ 0: job(), length: 1 })).path).toBe('args');
  });

  it('accept only null or undefined from a void procedure', () => {
    expect(ping.checkResult(undefined)).toBeUndefined();
    expect(ping.checkResult(null)).toBeUndefined();
    expect(rejection(() => ping.checkResult(0))).toMatchObject({ path: 'result', expected: 'nothing (void)' });
  });

  it('carry ids, @pool and docs into the descriptor', () => {
    expect(KitchenDescriptor).toMatchObject({ name: 'Kitchen', version: 3 });
    expect(KitchenDescriptor.procedures.map((p) => [p.id, p.name, p.pool])).toEqual([
      [1, 'submit', false], [2, 'find', false], [3, 'compress', true], [4, 'ping', false], [5, 'stats', false], [6, 'echo', false],
    ]);
    expect(compress.doc).toBe("Compresses a blob. CPU-heavy, so it runs in the server's thread pool.");
    expect(ping.doc).toBeUndefined();
    expect(ClockDescriptor).toMatchObject({ name: 'Clock', version: 1 });
  });
});

describe('codec round trip', () => {
  it('preserves bigint, bytes, nested arrays and structs, and leaves absent optionals out', () => {
    const args = [[job({ deadlineNs: -(2n ** 63n), children: [job({ parent: job() })] })], new Uint8Array([0, 255]), 2n ** 63n - 1n, 2n ** 64n - 1n];
    const decoded = decode(encode(args));
    expect(echo.checkArgs(decoded)).toEqual(args);
    const bytes = encode(blob({ label: undefined }));
    expect(Object.keys(decode(bytes) as object)).toEqual(['key', 'data', 'codec']);
  });

  it('decodes bin as a Uint8Array copy, not a view into the input', () => {
    const wire = encode(new Uint8Array([1, 2, 3]));
    const out = decode(wire) as Uint8Array;
    expect(out).toBeInstanceOf(Uint8Array);
    wire.fill(0);
    expect([...out]).toEqual([1, 2, 3]);
  });

  it('writes plain msgpack maps (no record extension) and undefined as nil', () => {
    expect(Buffer.from(encode({ a: 1 })).toString('hex')).toBe('81a16101');
    expect(Buffer.from(encode(undefined)).toString('hex')).toBe('c0');
    expect(Buffer.from(encode(5n)).toString('hex')).toBe('d30000000000000005');
  });

  it('rejects trailing bytes and truncated input', () => {
    expect(() => decode(new Uint8Array([1, 2]))).toThrow();
    expect(() => decode(new Uint8Array([0x92, 1]))).toThrow();
  });
});

// ---- Property-style tests ----

const noNegZero = (x: number): number => (Object.is(x, -0) ? 0 : x);
const blobArb: fc.Arbitrary<Blob> = fc.record(
  {
    key: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
    data: fc.uint8Array({ maxLength: 64 }),
    codec: fc.constantFrom(...Object.values(Codec)),
    label: fc.string(),
  },
  { requiredKeys: ['key', 'data', 'codec'] },
);
/** Jobs nested at most `depth` levels through `children` and `parent`. */
function jobArbitrary(depth: number): fc.Arbitrary<Job> {
  const nested = depth === 0 ? fc.constant(undefined) : fc.option(jobArbitrary(depth - 1), { nil: undefined });
  return fc.record(
    {
      id: fc.nat({ max: 2 ** 32 - 1 }),
      name: fc.string(),
      priority: fc.constantFrom(...Object.values(Priority)),
      inputs: fc.array(blobArb, { maxLength: 3 }),
      weights: fc.array(fc.double().map(noNegZero), { maxLength: 4 }),
      children: depth === 0 ? fc.constant([]) : fc.array(jobArbitrary(depth - 1), { maxLength: 2 }),
      parent: nested,
      deadlineNs: fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
      urgent: fc.boolean(),
    },
    { requiredKeys: ['id', 'name', 'priority', 'inputs', 'weights', 'children', 'urgent'] },
  );
}
const jobArb = jobArbitrary(2);
const statsArb: fc.Arbitrary<Stats> = fc.record({
  i8: fc.integer({ min: -128, max: 127 }), i16: fc.integer({ min: -32768, max: 32767 }), i32: fc.integer(),
  i64: fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), u8: fc.nat({ max: 255 }), u16: fc.nat({ max: 65535 }),
  u32: fc.nat({ max: 2 ** 32 - 1 }), u64: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
  f32: fc.float().map(noNegZero), f64: fc.double().map(noNegZero), matrix: fc.array(fc.array(fc.string())),
});
const garbage = fc.anything({ maxDepth: 3, withBigInt: true, withTypedArray: true, withNullPrototype: true, withMap: true, withSet: true, withDate: true, withBoxedValues: true, withSparseArray: true });
/** A valid job with one field (or one extra key) replaced by garbage. */
const corruptJob = fc.tuple(jobArb, fc.constantFrom('id', 'name', 'priority', 'inputs', 'weights', 'children', 'parent', 'deadlineNs', 'urgent', 'extra'), garbage)
  .map(([j, key, value]) => ({ ...j, [key]: value }));

/** Runs every validator of the interface on `value`; anything thrown must be a ValidationError. */
function onlyValidationErrors(value: unknown): void {
  for (const p of KitchenDescriptor.procedures) {
    for (const run of [() => p.checkArgs(value), () => p.checkArgs([value]), () => p.checkResult(value), () => p.checkArgs([value, value, value, value])]) {
      try {
        run();
      } catch (e) {
        if (!(e instanceof ValidationError)) throw e;
      }
    }
  }
}

describe('validators and codec, property-based', () => {
  it('valid values of every kitchen type pass validation and round-trip through the codec', () => {
    fc.assert(
      fc.property(jobArb, blobArb, statsArb, (j, b, s) => {
        expect(submit.checkArgs(decode(encode([j])))).toEqual([j]);
        expect(compress.checkArgs(decode(encode([b, b.codec])))).toEqual([b, b.codec]);
        expect(stats.checkResult(decode(encode(s)))).toEqual(s);
        expect(echo.checkResult(decode(encode([j, j])))).toEqual([j, j]);
      }),
      { numRuns: 300 },
    );
  });

  it('validators throw nothing but ValidationError on random garbage and on corrupted valid values', () => {
    fc.assert(fc.property(garbage, onlyValidationErrors), { numRuns: 500 });
    fc.assert(
      fc.property(corruptJob, (j) => {
        onlyValidationErrors(j);
        onlyValidationErrors({ ...blob(), data: j });
      }),
      { numRuns: 500 },
    );
  });

  it('values decoded from random bytes are rejected only with ValidationError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 64 }), (bytes) => {
        let value: unknown;
        try {
          value = decode(bytes);
        } catch {
          return; // malformed input is the codec's to reject
        }
        onlyValidationErrors(value);
      }),
      { numRuns: 1000 },
    );
  });
});
