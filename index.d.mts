// ESM typings for memwatch-rs: the same API as index.d.ts (the one source of the types), as a
// default export and as named exports.
import memwatch from './index.js';

export default memwatch;

export type Stats = memwatch.Stats;
export type LeakInfo = memwatch.LeakInfo;
export type HeapDiffTotals = memwatch.HeapDiffTotals;
export type HeapDiffDetail = memwatch.HeapDiffDetail;
export type HeapDiffResult = memwatch.HeapDiffResult;
export type RetainerStep = memwatch.RetainerStep;
export type SourceLocation = memwatch.SourceLocation;
export type MadeOf = memwatch.MadeOf;
export type RetainerSample = memwatch.RetainerSample;
export type HeapDiffWithRetainers = memwatch.HeapDiffWithRetainers;
export type HeapDiffOptions = memwatch.HeapDiffOptions;
export type HeapDiffConstructor = memwatch.HeapDiffConstructor;
export type SnapshotEvent = memwatch.SnapshotEvent;
export type SnapshotOnLeakOptions = memwatch.SnapshotOnLeakOptions;
export type StatsSample = memwatch.StatsSample;
export type ClassChange = memwatch.ClassChange;
export type SnapshotDiff = memwatch.SnapshotDiff;
export type LeakGroup = memwatch.LeakGroup;
export type LeakReport = memwatch.LeakReport;
export type CompareOptions = memwatch.CompareOptions;
export type AnalyzeOptions = memwatch.AnalyzeOptions;
export type Options = memwatch.Options;
export type AnalyzedObject = memwatch.AnalyzedObject;
export type AnalysisReport = memwatch.AnalysisReport;
export type BuildInfo = memwatch.BuildInfo;
export type MemWatch = memwatch.MemWatch;
export type HeapDiff<R extends HeapDiffResult = HeapDiffResult> = memwatch.HeapDiff<R>;

export declare const gc: MemWatch['gc'];
export declare const getOptions: MemWatch['getOptions'];
export declare const setOptions: MemWatch['setOptions'];
export declare const statsHistory: MemWatch['statsHistory'];
export declare const HeapDiff: MemWatch['HeapDiff'];
export declare const writeSnapshot: MemWatch['writeSnapshot'];
export declare const snapshotOnSignal: MemWatch['snapshotOnSignal'];
export declare const snapshotOnLeak: MemWatch['snapshotOnLeak'];
export declare const htmlReport: MemWatch['htmlReport'];
export declare const analyze: MemWatch['analyze'];
export declare const analyzeAsync: MemWatch['analyzeAsync'];
export declare const analyzeText: MemWatch['analyzeText'];
export declare const diffSnapshots: MemWatch['diffSnapshots'];
export declare const findLeaks: MemWatch['findLeaks'];
export declare const diffSnapshotsText: MemWatch['diffSnapshotsText'];
export declare const findLeaksText: MemWatch['findLeaksText'];
export declare const buildInfo: MemWatch['buildInfo'];
export declare const on: MemWatch['on'];
export declare const once: MemWatch['once'];
export declare const off: MemWatch['off'];
