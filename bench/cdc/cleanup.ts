/**
 * Undo actions for everything the benchmark starts (children, connectors, slots, servers), run
 * last-in first-out exactly once, whether the run succeeded, failed or was interrupted.
 */
export class CleanupStack {
  private readonly actions: { readonly name: string; readonly run: () => Promise<void> }[] = [];
  private running: Promise<void> | undefined;

  /** Registers `run` to undo something just started; returns a function that runs it early. */
  defer(name: string, run: () => Promise<void>): () => Promise<void> {
    const action = { name, run };
    this.actions.push(action);
    return async () => {
      const index = this.actions.indexOf(action);
      if (index < 0) return;
      this.actions.splice(index, 1);
      await run();
    };
  }

  /** Runs every pending action, newest first; a failing action is reported and the rest still run. */
  runAll(): Promise<void> {
    this.running ??= (async () => {
      for (let action = this.actions.pop(); action; action = this.actions.pop()) {
        try {
          await action.run();
        } catch (error) {
          console.error(`cleanup: ${action.name} failed: ${describeError(error)}`);
        }
      }
    })();
    return this.running;
  }
}

/** One line for an error of any kind. */
export function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
