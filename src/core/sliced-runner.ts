/**
 * Runs callbacks in the order given, at most `perTurn` of them per event-loop turn: the first ones at once, the
 * rest in later turns (setImmediate), so that one event releasing 10,000 waiters does not hold the event loop —
 * and every response, the releasing call's own included — until the last is answered. A single release (the
 * common case) runs at once.
 */
export function createSlicedRunner(perTurn: number): (task: () => void) => void {
  let budget = perTurn;
  let queue: (() => void)[] = [];
  let head = 0;
  let scheduled = false;
  const schedule = () => {
    if (scheduled) return;
    scheduled = true;
    setImmediate(turn);
  };
  function turn(): void {
    scheduled = false;
    const ranLastTurn = budget < perTurn;
    budget = perTurn;
    while (head < queue.length && budget > 0) {
      budget--;
      const task = queue[head] as () => void;
      queue[head++] = noop;
      task();
    }
    if (head === queue.length) {
      queue = [];
      head = 0;
    }
    // Another turn to continue the queue, or to give a turn that ran tasks its budget back.
    if (head < queue.length || (ranLastTurn && budget < perTurn)) schedule();
  }
  return (task) => {
    if (budget > 0 && head === queue.length) {
      budget--;
      schedule();
      task();
      return;
    }
    queue.push(task);
    schedule();
  };
}

const noop = () => {};
