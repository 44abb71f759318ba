/**
 * Wraps `run` so that calls run one at a time, in call order: a caller may start the next batch
 * without awaiting the last, and a failed call does not stop the ones after it.
 */
export function inOrder<A, R>(run: (arg: A) => Promise<R>): (arg: A) => Promise<R> {
  let tail: Promise<unknown> = Promise.resolve();
  return (arg) => {
    const result = tail.then(() => run(arg));
    tail = result.catch(() => undefined);
    return result;
  };
}
