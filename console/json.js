// A JSON reader that knows where things are: the line of every value by its
// path ("$.Resources.thing[0]", as the API's error details name them), and
// the line and column of a syntax error. The editor's errors point there.
export function parseWithLines(source) {
  let at = 0;
  let line = 1;
  let column = 1;
  const lines = new Map();

  const fail = (message) => {
    const error = new SyntaxError(`line ${line}, column ${column}: ${message}`);
    error.line = line;
    error.column = column;
    throw error;
  };
  const advance = () => {
    if (source[at] === '\n') { line += 1; column = 1; } else { column += 1; }
    at += 1;
  };
  const space = () => { while (at < source.length && ' \t\r\n'.includes(source[at])) advance(); };
  const expect = (word) => {
    for (const c of word) { if (source[at] !== c) fail(`expected ${JSON.stringify(word)}`); advance(); }
  };

  function string() {
    const start = at;
    advance();
    while (at < source.length && source[at] !== '"') {
      if (source[at] === '\n') fail('unterminated string');
      if (source[at] === '\\') advance();
      advance();
    }
    if (at >= source.length) fail('unterminated string');
    advance();
    try { return JSON.parse(source.slice(start, at)); } catch { return fail('invalid string escape'); }
  }

  function number() {
    const match = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(source.slice(at));
    if (!match) fail('unexpected character ' + JSON.stringify(source[at]));
    for (let i = 0; i < match[0].length; i += 1) advance();
    return Number(match[0]);
  }

  function value(path) {
    space();
    lines.set(path, line);
    const c = source[at];
    if (c === '{') {
      advance();
      const object = {};
      space();
      if (source[at] === '}') { advance(); return object; }
      for (;;) {
        space();
        if (source[at] !== '"') fail('expected a member name in double quotes');
        const keyLine = line;
        const key = string();
        if (Object.prototype.hasOwnProperty.call(object, key)) fail(`duplicate member ${JSON.stringify(key)}`);
        space();
        if (source[at] !== ':') fail('expected ":"');
        advance();
        object[key] = value(`${path}.${key}`);
        if (lines.get(`${path}.${key}`) !== keyLine) lines.set(`${path}.${key}`, keyLine);
        space();
        if (source[at] === ',') { advance(); continue; }
        if (source[at] === '}') { advance(); return object; }
        fail('expected "," or "}"');
      }
    }
    if (c === '[') {
      advance();
      const array = [];
      space();
      if (source[at] === ']') { advance(); return array; }
      for (;;) {
        array.push(value(`${path}[${array.length}]`));
        space();
        if (source[at] === ',') { advance(); continue; }
        if (source[at] === ']') { advance(); return array; }
        fail('expected "," or "]"');
      }
    }
    if (c === '"') return string();
    if (c === 't') { expect('true'); return true; }
    if (c === 'f') { expect('false'); return false; }
    if (c === 'n') { expect('null'); return null; }
    if (c === undefined) return fail('unexpected end of text');
    return number();
  }

  const result = value('$');
  space();
  if (at < source.length) fail('unexpected text after the JSON value');
  return { value: result, lines };
}

// The line of `path` (or of its nearest parent that has one).
export function lineOf(lines, path) {
  let p = path;
  while (p) {
    if (lines.has(p)) return lines.get(p);
    const cut = Math.max(p.lastIndexOf('.'), p.lastIndexOf('['));
    if (cut <= 0) break;
    p = p.slice(0, cut);
  }
  return lines.get('$') || 1;
}
