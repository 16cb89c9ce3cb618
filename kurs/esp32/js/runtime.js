// The mJS built-ins (print, load, die, ffi, mkstr, chr, gc, JSON, Object.create) on QuickJS,
// and the table of JS callbacks the "C side" (Python) holds. Runs first in every fresh context.
// Every function here is named __kurs_* so error reports can leave our frames out.
(function __kurs_setup(g) {
  'use strict';
  const H = {
    print: g.__kurs_host_print,
    load: g.__kurs_host_load,
    resolve: g.__kurs_host_ffi_resolve,
    call: g.__kurs_host_call,
    wd: g.__kurs_host_wd,
  };
  const ErrorCtor = g.Error;
  const jparse = g.JSON.parse;
  const jstringify = g.JSON.stringify;
  const MapCtor = g.Map;
  const WeakMapCtor = g.WeakMap;
  const objCreate = g.Object.create;
  const isArray = g.Array.isArray;
  const fromCharCode = g.String.fromCharCode;
  const isInteger = g.Number.isInteger;
  const toNumber = g.Number;
  const trunc = g.Math.trunc;
  const FOREIGN = g.Symbol('foreign');
  const String = g.String;
  const Object = g.Object;
  const unescape = g.unescape;
  const encodeURIComponent = g.encodeURIComponent;

  function __kurs_error(msg) {
    const e = new ErrorCtor(msg);
    e.name = 'MJSError';
    return e;
  }
  function __kurs_ffi_error(msg) {  // mjs_ffi.c prepends this to every argument error
    return __kurs_error('failed to call FFIed function: ' + msg);
  }

  // -- foreign pointers: what a void * looks like to mJS -------------------------------------
  function __kurs_foreign(addr, str) {
    const f = objCreate(null);
    f[FOREIGN] = true;
    f.addr = addr;
    f.str = str;
    return Object.freeze(f);
  }
  function __kurs_is_foreign(v) {
    return v !== null && typeof v === 'object' && v[FOREIGN] === true;
  }
  function __kurs_typeof(v) {  // mjs_typeof()
    if (v === null) return 'null';
    if (v === undefined) return 'undefined';
    if (__kurs_is_foreign(v)) return 'foreign_ptr';
    if (isArray(v)) return 'array';
    return typeof v;
  }
  function __kurs_from_host(v) {  // JSON from Python: foreign pointers are tagged objects
    if (v !== null && typeof v === 'object' && !isArray(v) && '__kurs_foreign__' in v) {
      return __kurs_foreign(v.__kurs_foreign__, v.str === undefined ? null : v.str);
    }
    return v;
  }

  // -- callbacks held by the C side -----------------------------------------------------------
  const callbacks = new MapCtor();
  let nextId = 1;
  function __kurs_register(fn, ud, udIndex) {
    const id = nextId++;
    callbacks.set(id, {fn: fn, ud: ud, udIndex: udIndex});
    return id;
  }
  g.__kurs_invoke = function __kurs_invoke(id, argsJson) {
    const entry = callbacks.get(id);
    if (entry === undefined) return undefined;
    const raw = argsJson ? jparse(argsJson) : [];
    const args = [];
    for (let i = 0; i < raw.length; i++) args.push(__kurs_from_host(raw[i]));
    if (entry.udIndex >= 0) args.splice(entry.udIndex, 0, entry.ud);
    const r = entry.fn.apply(undefined, args);
    return (typeof r === 'number' || typeof r === 'boolean' || typeof r === 'string') ? r : undefined;
  };
  g.__kurs_free = function __kurs_free(id) {
    callbacks.delete(id);
  };
  g.__kurs_callback_count = function __kurs_callback_count() {
    return callbacks.size;
  };

  // -- the task watchdog: every loop body starts with __kurs_wd() (see watchdog.py) ----------
  let wdCount = 0;
  g.__kurs_wd = function __kurs_wd() {
    if (++wdCount < 4096) return;
    wdCount = 0;
    if (H.wd()) {
      const e = new ErrorCtor('task watchdog');
      e.name = 'Watchdog';
      throw e;
    }
  };

  // -- print: mjs_jprintf's formatting ----------------------------------------------------------
  const fnIds = new WeakMapCtor();
  let nextFnId = 4096;
  function __kurs_hex2(n) {
    return (n < 16 ? '0' : '') + numberToString.call(n, 16);
  }
  function __kurs_bytes(s) {  // mJS strings are bytes: non-printable ones print as \xNN
    let out = '';
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c > 0xff) {  // only from JSON escapes like \u2603: print its UTF-8 bytes
        const utf8 = unescape(encodeURIComponent(s[i]));
        for (let j = 0; j < utf8.length; j++) out += '\\x' + __kurs_hex2(utf8.charCodeAt(j));
      } else {
        out += (c >= 0x20 && c < 0x7f) ? s[i] : '\\x' + __kurs_hex2(c);
      }
    }
    return out;
  }
  function __kurs_fmt(v) {
    const t = __kurs_typeof(v);
    if (t === 'number') {
      if (v !== v) return 'nan';
      if (v === 1 / 0) return 'inf';
      if (v === -1 / 0) return '-inf';
      return isInteger(v) ? String(v) : numberToFixed.call(v, 6);
    }
    if (t === 'boolean') return v ? 'true' : 'false';
    if (t === 'string') return __kurs_bytes(v);
    if (t === 'array') return '<array>';
    if (t === 'foreign_ptr') return '<foreign_ptr@' + numberToString.call(v.addr || 0, 16) + '>';
    if (t === 'function') {
      if (!fnIds.has(v)) fnIds.set(v, nextFnId += 24);
      return '<function@' + fnIds.get(v) + '>';
    }
    if (t === 'object') return '<object>';
    return t;  // null, undefined
  }
  g.print = function __kurs_print() {
    let s = '';
    for (let i = 0; i < arguments.length; i++) s += __kurs_fmt(arguments[i]) + ' ';
    H.print(s);
  };

  // -- load, die ------------------------------------------------------------------------------------
  g.load = function __kurs_load(name) {
    if (typeof name !== 'string') throw __kurs_error('missing argument \'file\'');
    const err = H.load(name);
    if (err) throw __kurs_error(err);
    return undefined;
  };
  g.die = function __kurs_die(msg) {
    throw __kurs_error(typeof msg === 'string' ? msg : __kurs_fmt(msg));
  };

  // -- ffi: C functions by signature ------------------------------------------------------------
  function __kurs_make_ffi(d) {
    return function __kurs_ffi_call() {
      const n = arguments.length;
      const types = d.args;
      if (n !== types.length) {
        if (types.length === 0) throw __kurs_ffi_error('ffi-ed function takes no arguments');
        throw __kurs_ffi_error('got ' + n + ' actuals, but function takes ' + types.length + ' args');
      }
      let ud;
      for (let i = 0; i < n; i++) if (types[i] === 'userdata') ud = arguments[i];
      const out = [d.id];
      for (let i = 0; i < n; i++) {
        const v = arguments[i];
        const t = types[i];
        const vt = __kurs_typeof(v);
        if (t === 'int' || t === 'bool') {
          if (vt === 'number') out.push(t === 'bool' ? (trunc(v) !== 0) : (v | 0));
          else if (vt === 'boolean') out.push(t === 'bool' ? v : (v ? 1 : 0));
          else throw __kurs_ffi_error('actual arg #' + i + ' is not ' + (t === 'int' ? 'an int' : 'a bool') +
                                  ' (the type idx is: ' + vt + ')');
        } else if (t === 'double' || t === 'float') {
          out.push(toNumber(v));
        } else if (t === 'char*') {
          if (vt === 'string' || vt === 'null') out.push(v);
          else throw __kurs_ffi_error('actual arg #' + i + ' is not a string (the type idx is: ' + vt + ')');
        } else if (t === 'mg_str*') {
          if (vt === 'string') out.push(v);
          else throw __kurs_ffi_error('actual arg #' + i + ' is not a string (the type idx is: ' + vt + ')');
        } else if (t === 'void*') {
          if (vt === 'string' || vt === 'null') out.push(v);
          else if (vt === 'foreign_ptr') out.push(v.str !== null ? v.str : v.addr);
          else throw __kurs_ffi_error('actual arg #' + i + ' is not a ptr');
        } else if (t === 'callback') {
          if (vt !== 'function') throw __kurs_ffi_error('actual arg #' + i + ' is not a function, but ' + vt);
          out.push(__kurs_register(v, ud, d.cb_ud));
        } else {  // userdata stays on this side, with the callback
          out.push(null);
        }
      }
      const r = H.call.apply(undefined, out);
      if (d.ret === 'void') return undefined;
      if (d.ret === 'bool') return !!r;
      if (d.ret === 'int') return r === null || r === undefined ? 0 : r;
      if (d.ret === 'void*') {
        if (r === null || r === undefined) return null;
        return typeof r === 'string' ? __kurs_foreign(0x3ffb0000, r) : __kurs_foreign(r, null);
      }
      if (d.ret === 'char*') return r === undefined ? null : r;
      return r;
    };
  }
  g.ffi = function __kurs_ffi(sig) {
    if (typeof sig !== 'string') throw __kurs_error('ffi signature must be a string');
    const d = jparse(H.resolve(sig));
    if (d.error) throw __kurs_error(d.error);
    return __kurs_make_ffi(d);
  };

  // -- JSON.stringify as mJS writes it: numbers like print() (1.500000), newest property first
  //    (mJS keeps an object's properties in a list it adds to at the head), no undefined/functions.
  function __kurs_skip(t) {
    return t === 'undefined' || t === 'function' || t === 'foreign_ptr';
  }
  function __kurs_to_json(v, seen) {
    const t = __kurs_typeof(v);
    if (t === 'number') return __kurs_fmt(v);
    if (t === 'boolean') return v ? 'true' : 'false';
    if (t === 'null') return 'null';
    if (t === 'string') return jstringify(v);
    if (__kurs_skip(t)) return t === 'foreign_ptr' ? __kurs_fmt(v) : 'undefined';
    if (seen.indexOf(v) >= 0) return '[Circular]';
    seen.push(v);
    let out;
    if (t === 'array') {
      out = '[';
      for (let i = 0; i < v.length; i++) {
        if (i > 0) out += ',';
        out += __kurs_skip(__kurs_typeof(v[i])) ? 'null' : __kurs_to_json(v[i], seen);
      }
      out += ']';
    } else {
      const keys = Object.keys(v);
      out = '{';
      let first = true;
      for (let i = keys.length - 1; i >= 0; i--) {
        const item = v[keys[i]];
        if (__kurs_skip(__kurs_typeof(item))) continue;
        if (!first) out += ',';
        first = false;
        out += '"' + keys[i] + '":' + __kurs_to_json(item, seen);
      }
      out += '}';
    }
    seen.pop();
    return out;
  }

  // -- the rest of mJS's built-ins ----------------------------------------------------------------
  g.mkstr = function __kurs_mkstr(ptr, a, b, c) {
    if (!__kurs_is_foreign(ptr)) throw __kurs_error('ptr should be a foreign pointer');
    const s = ptr.str === null ? '' : ptr.str;
    if (arguments.length <= 2) return s.slice(0, a);
    return s.slice(a, a + b);
  };
  g.chr = function __kurs_chr(n) {
    if (typeof n !== 'number' || n < 0 || n > 255) return null;
    return fromCharCode(n);
  };
  g.gc = function __kurs_gc(full) {
    return undefined;
  };
  g.getMJS = function __kurs_getmjs() {
    return __kurs_foreign(0x3ffc1000, null);
  };
  g.JSON = {
    parse: function __kurs_json_parse(s) {
      if (typeof s !== 'string') throw __kurs_error('string argument required');
      try {
        return jparse(s);
      } catch (e) {
        throw __kurs_error('invalid JSON string');
      }
    },
    stringify: function __kurs_json_stringify(v) {
      if (arguments.length === 0) throw __kurs_error('missing a value to stringify');
      return __kurs_to_json(v, []);
    },
  };
  // 'abc'.at(0) === 0x61 in mJS: the byte value, not a one-character string.
  Object.defineProperty(g.String.prototype, 'at', {
    value: function __kurs_at(i) {
      const c = this.charCodeAt(i);
      return c === c ? c : undefined;
    },
    writable: true, configurable: true,
  });

  // -- mJS semantics the source transform (mjs_semantics.py) routes through these ------------
  const objectKeys = g.Object.keys;
  const setProto = g.Object.setPrototypeOf;
  const ProxyCtor = g.Proxy;
  const objectProto = g.Object.prototype;
  function __kurs_arith(op, a, b) {  // do_arith_op
    switch (op) {
      case '+': return a + b;
      case '-': return a - b;
      case '*': return a * b;
      case '/': return b === 0 ? NaN : a / b;
      case '%': {
        const d = trunc(b);
        if (d === 0) return NaN;
        const r = trunc(a) % d;
        return r === 0 ? 0 : r;
      }
      case '&': return a & b;
      case '|': return a | b;
      case '^': return a ^ b;
      case '<<': return a << b;
      case '>>': return a >> b;
      case '>>>': return a >>> b;
    }
    return NaN;
  }
  g.__kurs_bin = function __kurs_bin(op, a, b) {  // do_op
    const fa = __kurs_is_foreign(a);
    const fb = __kurs_is_foreign(b);
    if ((typeof a === 'number' || fa) && (typeof b === 'number' || fb)) {
      if ((fa && fb && op !== '-') || ((fa || fb) && op !== '-' && op !== '+')) {
        throw __kurs_error('invalid operands');
      }
      const r = __kurs_arith(op, fa ? a.addr : a, fb ? b.addr : b);
      return (fa !== fb) ? __kurs_foreign(r, null) : r;
    }
    if (op === '+' && typeof a === 'string' && typeof b === 'string') return a + b;
    throw __kurs_error('implicit type conversion is prohibited');
  };
  g.__kurs_rel = function __kurs_rel(op, a, b) {  // mjs_get_double: NaN for non-numbers
    if (typeof a !== 'number' || typeof b !== 'number') return false;
    if (op === '<') return a < b;
    if (op === '<=') return a <= b;
    if (op === '>') return a > b;
    return a >= b;
  };
  g.__kurs_neg = function __kurs_neg(a) {
    return typeof a === 'number' ? -a : NaN;
  };
  g.__kurs_num = function __kurs_num(old, result) {  // ++ and -- take numbers (and pointers) only
    if (typeof old !== 'number' && !__kurs_is_foreign(old)) {
      throw __kurs_error('implicit type conversion is prohibited');
    }
    return result;
  };
  g.__kurs_typeof = __kurs_typeof;
  g.__kurs_keys = function __kurs_keys(o) {  // for..in: newest property first
    const t = __kurs_typeof(o);
    if (t !== 'object' && t !== 'array') throw __kurs_error('can\'t iterate over non-object');
    const keys = objectKeys(o);
    const out = [];
    for (let i = keys.length - 1; i >= 0; i--) out.push(keys[i]);
    return out;
  };
  g.__kurs_g = g;
  g.isNaN = function __kurs_isnan(v) {
    return typeof v === 'number' && v !== v;
  };
  // Strings, numbers, booleans and functions are not objects in mJS: a property they do not
  // have is "type error" (OP_GET), and a new one is "unsupported object type" (TOK_ASSIGN).
  // A Proxy at the end of their prototype chains sees both.
  const notObject = new ProxyCtor(objectProto, {
    get: function __kurs_get(target, key, receiver) {
      if (typeof key !== 'string' || key in target || key === 'toJSON') return target[key];
      throw __kurs_error('type error');
    },
    set: function __kurs_set(target, key) {
      throw __kurs_error('unsupported object type');
    },
  });
  const keepString = {length: 1, slice: 1, at: 1, charCodeAt: 1, indexOf: 1, constructor: 1};
  const stringProto = g.String.prototype;
  const stringNames = g.Object.getOwnPropertyNames(stringProto);
  for (let i = 0; i < stringNames.length; i++) {
    if (keepString[stringNames[i]] !== 1) delete stringProto[stringNames[i]];
  }
  const numberProto = g.Number.prototype;
  const numberToString = numberProto.toString;
  const numberToFixed = numberProto.toFixed;
  const numberNames = g.Object.getOwnPropertyNames(numberProto);
  for (let i = 0; i < numberNames.length; i++) {
    if (numberNames[i] !== 'constructor') delete numberProto[numberNames[i]];
  }
  setProto(stringProto, notObject);
  setProto(numberProto, notObject);
  setProto(g.Boolean.prototype, notObject);
  setProto(g.Function.prototype, notObject);
  const Object_ = {create: objCreate};
  const hostNames = ['__kurs_host_print', '__kurs_host_load', '__kurs_host_ffi_resolve', '__kurs_host_call',
                     '__kurs_host_wd', '__kurs_wd', '__kurs_invoke', '__kurs_free', '__kurs_callback_count',
                     '__kurs_bin', '__kurs_rel', '__kurs_neg', '__kurs_num', '__kurs_typeof', '__kurs_keys', '__kurs_g'];
  // mJS has no standard library: what is not here is not on the board either.
  const missing = ['Math', 'Date', 'Number', 'Boolean', 'String', 'Array', 'Function', 'RegExp', 'Symbol',
                   'Map', 'Set', 'WeakMap', 'WeakSet', 'Promise', 'Proxy', 'Reflect', 'parseInt', 'parseFloat',
                   'isFinite', 'eval', 'decodeURI', 'decodeURIComponent', 'encodeURI',
                   'encodeURIComponent', 'escape', 'unescape', 'Error', 'EvalError', 'RangeError',
                   'ReferenceError', 'SyntaxError', 'TypeError', 'URIError', 'InternalError', 'AggregateError',
                   'ArrayBuffer', 'SharedArrayBuffer', 'Uint8ClampedArray', 'Int8Array', 'Uint8Array',
                   'Int16Array', 'Uint16Array', 'Int32Array', 'Uint32Array', 'BigInt64Array', 'BigUint64Array',
                   'Float32Array', 'Float64Array', 'DataView', 'Atomics', 'BigInt', '__date_clock', 'globalThis'];
  for (let i = 0; i < missing.length; i++) {
    try {
      delete g[missing[i]];
    } catch (e) {
      // non-configurable: leave it
    }
  }
  for (let i = 0; i < hostNames.length; i++) {
    Object.defineProperty(g, hostNames[i], {enumerable: false});
  }
  g.Object = Object_;
})(globalThis);
