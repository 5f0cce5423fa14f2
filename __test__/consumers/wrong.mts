// Must NOT compile: a plain HeapDiff's result has no retainers, and gc takes no arguments.
import { HeapDiff, gc } from 'memwatch-rs';

console.log(new HeapDiff().end().retainers);
gc(1);
