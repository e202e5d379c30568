declare module 'dynalite' {
  interface DynaliteOptions {
    path?: string;
    createTableMs?: number;
    deleteTableMs?: number;
    updateTableMs?: number;
    maxItemSizeKb?: number;
  }
  interface DynaliteServer {
    listen(port: number, host: string, callback: (error?: Error) => void): void;
    close(callback?: (error?: Error) => void): void;
    address(): { port: number } | string | null;
  }
  function dynalite(options?: DynaliteOptions): DynaliteServer;
  export default dynalite;
}
