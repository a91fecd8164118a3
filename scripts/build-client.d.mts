// Types of build-client.mjs for the TypeScript that imports it (test/support/global-setup.ts).
/** Where the bundle goes, relative to the package root (page.ts's CLIENT_BUNDLE). */
export declare const CLIENT_BUNDLE: string;
/** Builds the viewer's browser client bundle under `root` (the package root). */
export declare function buildClient(root?: string): Promise<void>;
