// JSON.stringify refusing a Map or a Set, which it sends as {} (src/web/js_read.rs says why).
export function argsText(args) {
  return JSON.stringify(args, function (key, value) {
    const map = value instanceof Map;
    if (map || value instanceof Set) {
      const what = key === "" ? "they are" : Array.isArray(this) ? `item ${key} is` : `\`${key}\` is`;
      throw new TypeError(`${what} a ${map ? "Map" : "Set"}, which JSON.stringify sends as {}; pass ${map ? "Object.fromEntries(map)" : "[...set]"}`);
    }
    return value;
  });
}
