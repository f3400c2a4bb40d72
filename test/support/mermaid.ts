/**
 * Mermaid's own parser, run under Node: mermaid sanitises labels with
 * DOMPurify, which needs a window, so a jsdom window stands in for the
 * browser. Parsing is what GitHub does before it draws; a text this accepts
 * is one GitHub's renderer reads.
 */
type Mermaid = { initialize(config: object): void; parse(text: string): Promise<unknown> };
let loaded: Promise<Mermaid> | undefined;

function load(): Promise<Mermaid> {
  loaded ??= (async () => {
    // jsdom ships no types; this is all of it that is used.
    const specifier = "jsdom";
    const { JSDOM } = (await import(specifier)) as { JSDOM: new (html: string) => { window: { document: unknown } } };
    const { window } = new JSDOM("");
    const g = globalThis as Record<string, unknown>;
    g.window ??= window;
    g.document ??= window.document;
    const mermaid = ((await import("mermaid")) as unknown as { default: Mermaid }).default;
    mermaid.initialize({ startOnLoad: false, securityLevel: "strict" });
    return mermaid;
  })();
  return loaded;
}

/** Resolves when mermaid parses `text`; rejects with mermaid's parse error otherwise. */
export async function parseMermaid(text: string): Promise<void> {
  await (await load()).parse(text);
}
