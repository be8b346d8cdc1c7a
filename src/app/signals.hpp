#pragma once

namespace macvmorx::app {

// Blocks SIGINT, SIGTERM and SIGHUP in the calling thread and every thread it starts later,
// so that they queue until `wait_for_signal` takes them instead of killing the process.
// Call before any thread starts.
void block_signals();

// Waits for one of the blocked signals and returns its number.
int wait_for_signal();

} // namespace macvmorx::app
