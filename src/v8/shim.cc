// The only C++ in memwatch-rs: a thin `extern "C"` layer over the V8 APIs that Node-API does not
// offer (GC callbacks, heap statistics, forcing a GC, heap snapshots).
//
// Rules: plain C structs and integers cross the boundary, never a C++ type; no exceptions, no
// RTTI (node is built without it), no C++ standard library, so the addon links against nothing
// but the `node` executable and libc. All policy lives in Rust; this file only translates.

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <v8.h>
#include <v8-profiler.h>

extern "C" {

// Mirrors `HeapStatsRaw` in src/v8/mod.rs.
struct mw_heap_stats {
  uint64_t total_heap_size;
  uint64_t total_heap_size_executable;
  uint64_t total_physical_size;
  uint64_t total_available_size;
  uint64_t used_heap_size;
  uint64_t heap_size_limit;
  uint64_t malloced_memory;
  uint64_t peak_malloced_memory;
};

// Mirrors `GcInfoRaw` in src/v8/mod.rs.
struct mw_gc_info {
  uint32_t phase;      // 0: prologue, 1: epilogue
  uint32_t kinds;      // stable bits: 1 scavenge, 2 minor mark-sweep, 4 mark-sweep-compact,
                       // 8 incremental marking, 16 process weak callbacks
  uint32_t flags;      // v8::GCCallbackFlags, as is
  uint32_t has_heap;   // 1 when `heap` was read (every epilogue; prologues of full GCs)
  uint64_t mono_ns;    // CLOCK_MONOTONIC at the callback
  mw_heap_stats heap;
};

typedef void (*mw_gc_fn)(void* data, const mw_gc_info* info);

// Called when the heap nears V8's limit (Isolate::AddNearHeapLimitCallback): returns the new
// limit (the current one to change nothing). Inside V8's allocation path: no JS.
typedef size_t (*mw_limit_fn)(void* data, size_t current_limit, size_t initial_limit);

// Called once per snapshot node. `name` is only read for the types set in `name_mask`
// (otherwise it is empty). The pointer is valid for the duration of the call only.
typedef void (*mw_node_fn)(void* ctx, uint32_t id, uint32_t type, uint64_t shallow_size,
                           const char* name, size_t name_len);

// Receives the snapshot's JSON serialization, chunk by chunk; returns 0 to go on, anything
// else to stop. `data` is valid for the duration of the call only.
typedef int (*mw_write_fn)(void* ctx, const char* data, size_t len);

// Called once per node of the sampling heap profiler's call tree, parents before children.
// `self_bytes` is V8's estimate of the live bytes allocated with this node as the innermost
// frame (its samples, scaled); `line` and `column` are 1-based, 0 when unknown. The strings are
// valid for the duration of the call only.
typedef void (*mw_site_fn)(void* ctx, uint32_t node_id, uint32_t parent_id, uint64_t self_bytes,
                           int32_t script_id, int32_t line, int32_t column, const char* name,
                           size_t name_len, const char* script, size_t script_len);

// Called once per live object by mw_count_objects with its constructor's name (at most 255
// bytes). The pointer is valid for the duration of the call only.
typedef void (*mw_count_fn)(void* ctx, const char* name, size_t name_len);

}  // extern "C"

namespace {

// Counts live objects by constructor name without keeping any: QueryObjects visits every live
// object and keeps those the predicate accepts; this one accepts none, so memory stays bounded
// by the number of distinct names (held on the Rust side).
class CountByConstructor final : public v8::QueryObjectPredicate {
 public:
  CountByConstructor(v8::Isolate* isolate, mw_count_fn fn, void* ctx) : isolate_(isolate), fn_(fn), ctx_(ctx) {}
  bool Filter(v8::Local<v8::Object> object) override {
    v8::HandleScope scope(isolate_);
    v8::Local<v8::String> name = object->GetConstructorName();
    size_t len = 0;
    if (!name.IsEmpty()) len = write_utf8_prefix(name);
    fn_(ctx_, buf_, len);
    count_++;
    return false;
  }
  int64_t count() const { return count_; }

 private:
  size_t write_utf8_prefix(v8::Local<v8::String> name);
  v8::Isolate* isolate_;
  mw_count_fn fn_;
  void* ctx_;
  char buf_[256];
  int64_t count_ = 0;
};

// Hands V8's JSON chunks to a C callback; remembers whether the callback asked to stop.
class ChunkStream final : public v8::OutputStream {
 public:
  ChunkStream(mw_write_fn fn, void* ctx) : fn_(fn), ctx_(ctx) {}
  void EndOfStream() override {}
  int GetChunkSize() override { return 1 << 20; }
  WriteResult WriteAsciiChunk(char* data, int size) override {
    if (stopped_) return kAbort;
    if (fn_(ctx_, data, static_cast<size_t>(size)) != 0) {
      stopped_ = true;
      return kAbort;
    }
    return kContinue;
  }
  bool stopped() const { return stopped_; }

 private:
  mw_write_fn fn_;
  void* ctx_;
  bool stopped_ = false;
};

struct GcHook {
  v8::Isolate* isolate;
  mw_gc_fn fn;
  mw_limit_fn limit_fn;
  void* data;
};

size_t on_near_heap_limit(void* data, size_t current_limit, size_t initial_limit) {
  GcHook* hook = static_cast<GcHook*>(data);
  return hook->limit_fn(hook->data, current_limit, initial_limit);
}

uint64_t monotonic_ns() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void read_heap_stats(v8::Isolate* isolate, mw_heap_stats* out) {
  v8::HeapStatistics hs;
  isolate->GetHeapStatistics(&hs);
  out->total_heap_size = hs.total_heap_size();
  out->total_heap_size_executable = hs.total_heap_size_executable();
  out->total_physical_size = hs.total_physical_size();
  out->total_available_size = hs.total_available_size();
  out->used_heap_size = hs.used_heap_size();
  out->heap_size_limit = hs.heap_size_limit();
  out->malloced_memory = hs.malloced_memory();
  out->peak_malloced_memory = hs.peak_malloced_memory();
}

// V8 13 replaced Utf8Length/WriteUtf8 with size_t-based V2 versions; V8 14 (node 26) removed
// the old ones.
size_t utf8_length(v8::Isolate* isolate, v8::Local<v8::String> s) {
#if V8_MAJOR_VERSION >= 13
  return s->Utf8LengthV2(isolate);
#else
  return static_cast<size_t>(s->Utf8Length(isolate));
#endif
}

size_t write_utf8(v8::Isolate* isolate, v8::Local<v8::String> s, char* buf, size_t cap) {
#if V8_MAJOR_VERSION >= 13
  return s->WriteUtf8V2(isolate, buf, cap, v8::String::WriteFlags::kNone);
#else
  return static_cast<size_t>(
      s->WriteUtf8(isolate, buf, static_cast<int>(cap), nullptr, v8::String::NO_NULL_TERMINATION));
#endif
}

// Copies a V8 string into a growable malloc buffer; returns its length (0 when it does not fit).
size_t copy_utf8(v8::Isolate* isolate, v8::Local<v8::String> s, char** buf, size_t* cap) {
  if (s.IsEmpty()) return 0;
  const size_t need = utf8_length(isolate, s) + 1;
  if (need > *cap) {
    char* bigger = static_cast<char*>(realloc(*buf, need));
    if (bigger == nullptr) return 0;
    *buf = bigger;
    *cap = need;
  }
  return write_utf8(isolate, s, *buf, *cap);
}

size_t CountByConstructor::write_utf8_prefix(v8::Local<v8::String> name) {
  // Names longer than the buffer are cut at a character boundary by WriteUtf8.
  return write_utf8(isolate_, name, buf_, sizeof buf_);
}

// V8 renumbered and renamed GC types across versions (kGCTypeMinorMarkCompact became
// kGCTypeMinorMarkSweep, same bit); map them onto bits that never change.
uint32_t stable_kinds(v8::GCType type) {
  const uint32_t t = static_cast<uint32_t>(type);
  uint32_t kinds = 0;
  if (t & v8::kGCTypeScavenge) kinds |= 1;
  if (t & (1u << 1)) kinds |= 2;  // minor mark-compact (node <= 20) / minor mark-sweep (22+)
  if (t & v8::kGCTypeMarkSweepCompact) kinds |= 4;
  if (t & v8::kGCTypeIncrementalMarking) kinds |= 8;
  if (t & v8::kGCTypeProcessWeakCallbacks) kinds |= 16;
  return kinds;
}

void on_gc(uint32_t phase, v8::Isolate* isolate, v8::GCType type, v8::GCCallbackFlags flags,
           void* data) {
  GcHook* hook = static_cast<GcHook*>(data);
  mw_gc_info info;
  memset(&info, 0, sizeof info);
  info.phase = phase;
  info.kinds = stable_kinds(type);
  info.flags = static_cast<uint32_t>(flags);
  info.mono_ns = monotonic_ns();
  if (phase == 1 || (info.kinds & 4)) {
    // Reading statistics allocates nothing on the JS heap (a few hundred ns); memwatch always
    // read them here.
    read_heap_stats(isolate, &info.heap);
    info.has_heap = 1;
  }
  hook->fn(hook->data, &info);
}

void on_prologue(v8::Isolate* isolate, v8::GCType type, v8::GCCallbackFlags flags, void* data) {
  on_gc(0, isolate, type, flags, data);
}

void on_epilogue(v8::Isolate* isolate, v8::GCType type, v8::GCCallbackFlags flags, void* data) {
  on_gc(1, isolate, type, flags, data);
}

}  // namespace

extern "C" {

// The isolate of the calling thread (each worker thread has its own), or NULL.
void* mw_isolate_current(void) { return v8::Isolate::GetCurrent(); }

// The V8 version the addon was compiled against, for diagnostics.
const char* mw_v8_version(void) { return v8::V8::GetVersion(); }

// Installs prologue and epilogue callbacks that forward every GC to `fn(data, info)`, and a
// near-heap-limit callback that asks `limit_fn(data, current, initial)` for the new limit.
// Returns an opaque handle for mw_gc_hook_remove, or NULL when out of memory.
void* mw_gc_hook_add(void* isolate, mw_gc_fn fn, mw_limit_fn limit_fn, void* data) {
  GcHook* hook = static_cast<GcHook*>(malloc(sizeof(GcHook)));
  if (hook == nullptr) return nullptr;
  hook->isolate = static_cast<v8::Isolate*>(isolate);
  hook->fn = fn;
  hook->limit_fn = limit_fn;
  hook->data = data;
  hook->isolate->AddGCPrologueCallback(on_prologue, hook, v8::kGCTypeAll);
  hook->isolate->AddGCEpilogueCallback(on_epilogue, hook, v8::kGCTypeAll);
  hook->isolate->AddNearHeapLimitCallback(on_near_heap_limit, hook);
  return hook;
}

// Removes the callbacks installed by mw_gc_hook_add and frees the handle.
void mw_gc_hook_remove(void* handle) {
  GcHook* hook = static_cast<GcHook*>(handle);
  if (hook == nullptr) return;
  hook->isolate->RemoveGCPrologueCallback(on_prologue, hook);
  hook->isolate->RemoveGCEpilogueCallback(on_epilogue, hook);
  // 0: leave the heap limit as it is (a raise already given stays given).
  hook->isolate->RemoveNearHeapLimitCallback(on_near_heap_limit, 0);
  free(hook);
}

// A full, synchronous GC that works without --expose-gc (unlike
// RequestGarbageCollectionForTesting, which aborts without the flag).
void mw_full_gc(void* isolate) { static_cast<v8::Isolate*>(isolate)->LowMemoryNotification(); }

// Asks V8 for an incremental full GC soon (its moderate memory-pressure path: incremental
// marking starts now and finishes with a mark-compact). Call from JS, never inside a GC.
void mw_request_incremental_gc(void* isolate) {
  static_cast<v8::Isolate*>(isolate)->MemoryPressureNotification(v8::MemoryPressureLevel::kModerate);
}

// Gives freed heap pages back to the OS; glibc keeps a deleted snapshot's memory otherwise.
void mw_release_free_memory(void) {
#if defined(__GLIBC__)
  malloc_trim(0);
#endif
}

// Starts or stops V8's allocation tracker (DevTools' "allocation instrumentation"): while it
// runs, every allocation records its JS stack, and snapshots carry trace_function_infos,
// trace_tree and a trace_node_id per node. Call from JS, never inside a GC.
void mw_allocation_tracking(void* isolate, int on) {
  v8::HeapProfiler* profiler = static_cast<v8::Isolate*>(isolate)->GetHeapProfiler();
  if (on) {
    profiler->StartTrackingHeapObjects(true);
  } else {
    profiler->StopTrackingHeapObjects();
  }
}

// Starts V8's sampling heap profiler (DevTools' "allocation sampling"): about one allocation per
// `interval` bytes records its stack; samples die with their objects. Returns 1 when it runs.
// Call from JS, never inside a GC.
int mw_sampling_start(void* isolate, uint64_t interval, int depth) {
  v8::HeapProfiler* profiler = static_cast<v8::Isolate*>(isolate)->GetHeapProfiler();
  return profiler->StartSamplingHeapProfiler(interval, depth, v8::HeapProfiler::kSamplingNoFlags) ? 1 : 0;
}

void mw_sampling_stop(void* isolate) {
  static_cast<v8::Isolate*>(isolate)->GetHeapProfiler()->StopSamplingHeapProfiler();
}

// Per-node bytes of the samples with an id at most `cutoff`, sorted by node id for bsearch.
struct NodeBytes {
  uint32_t node_id;
  uint64_t bytes;
};

static int cmp_node_bytes(const void* a, const void* b) {
  const uint32_t x = static_cast<const NodeBytes*>(a)->node_id, y = static_cast<const NodeBytes*>(b)->node_id;
  return x < y ? -1 : x > y ? 1 : 0;
}

// Reads the sampling heap profiler's live profile and calls `fn` for every node of its call
// tree, depth-first without recursion. A node's bytes count only its samples whose id is at
// most `cutoff` (ids grow with allocation time: the caller passes the newest id it saw before
// the last full GC, so that young objects not yet through one, garbage or not, are left out);
// `*max_id` receives the newest sample id alive. Returns the node count, or -1 when the
// profiler is not running or memory ran out.
int64_t mw_sampling_profile(void* isolate_ptr, uint64_t cutoff, uint64_t* max_id, mw_site_fn fn, void* ctx) {
  v8::Isolate* isolate = static_cast<v8::Isolate*>(isolate_ptr);
  v8::HandleScope scope(isolate);
  v8::AllocationProfile* profile = isolate->GetHeapProfiler()->GetAllocationProfile();
  if (profile == nullptr) return -1;
  *max_id = 0;
  const std::vector<v8::AllocationProfile::Sample>& samples = profile->GetSamples();
  NodeBytes* per_node = static_cast<NodeBytes*>(malloc((samples.size() + 1) * sizeof(NodeBytes)));
  size_t per_node_len = 0;
  if (per_node != nullptr) {
    for (const v8::AllocationProfile::Sample& sample : samples) {
      if (sample.sample_id > *max_id) *max_id = sample.sample_id;
      if (sample.sample_id > cutoff) continue;
      per_node[per_node_len++] = NodeBytes{sample.node_id, static_cast<uint64_t>(sample.size) * sample.count};
    }
    qsort(per_node, per_node_len, sizeof(NodeBytes), cmp_node_bytes);
    // Sum runs of the same node in place.
    size_t out = 0;
    for (size_t i = 0; i < per_node_len; i++) {
      if (out > 0 && per_node[out - 1].node_id == per_node[i].node_id) {
        per_node[out - 1].bytes += per_node[i].bytes;
      } else {
        per_node[out++] = per_node[i];
      }
    }
    per_node_len = out;
  }
  struct Item {
    v8::AllocationProfile::Node* node;
    uint32_t parent;
  };
  size_t cap = 256, len = 0;
  Item* stack = static_cast<Item*>(malloc(cap * sizeof(Item)));
  size_t name_cap = 128, script_cap = 256;
  char* name = static_cast<char*>(malloc(name_cap));
  char* script = static_cast<char*>(malloc(script_cap));
  int64_t count = 0;
  bool ok = stack != nullptr && name != nullptr && script != nullptr && per_node != nullptr;
  if (ok) stack[len++] = Item{profile->GetRootNode(), 0};
  while (ok && len > 0) {
    const Item item = stack[--len];
    v8::AllocationProfile::Node* node = item.node;
    uint64_t self = 0;
    const NodeBytes key{node->node_id, 0};
    const NodeBytes* found = per_node_len == 0 ? nullptr : static_cast<const NodeBytes*>(bsearch(&key, per_node, per_node_len, sizeof(NodeBytes), cmp_node_bytes));
    if (found != nullptr) self = found->bytes;
    const size_t name_len = copy_utf8(isolate, node->name, &name, &name_cap);
    const size_t script_len = copy_utf8(isolate, node->script_name, &script, &script_cap);
    fn(ctx, node->node_id, item.parent, self, node->script_id, node->line_number, node->column_number,
       name, name_len, script, script_len);
    count++;
    for (v8::AllocationProfile::Node* child : node->children) {
      if (len == cap) {
        Item* bigger = static_cast<Item*>(realloc(stack, 2 * cap * sizeof(Item)));
        if (bigger == nullptr) {
          ok = false;
          break;
        }
        stack = bigger;
        cap *= 2;
      }
      stack[len++] = Item{child, node->node_id};
    }
  }
  free(stack);
  free(name);
  free(script);
  free(per_node);
  delete profile;
  return ok ? count : -1;
}

// Counts the live objects of the current context's heap by constructor name, calling `fn` once
// per object (V8 runs a full GC first, and marks to skip unreachable objects). Keeps no object
// alive. Returns the number of objects, or -1 without a context. Call from JS, never in a GC.
int64_t mw_count_objects(void* isolate_ptr, mw_count_fn fn, void* ctx) {
  v8::Isolate* isolate = static_cast<v8::Isolate*>(isolate_ptr);
  v8::HandleScope scope(isolate);
  v8::Local<v8::Context> context = isolate->GetCurrentContext();
  if (context.IsEmpty()) return -1;
  CountByConstructor predicate(isolate, fn, ctx);
  std::vector<v8::Global<v8::Object>> kept;
  isolate->GetHeapProfiler()->QueryObjects(context, &predicate, &kept);
  return predicate.count();
}

// The benchmark floor: takes a heap snapshot exactly as mw_snapshot_walk does and deletes it
// without walking it. Returns the node count, or -1.
int64_t mw_snapshot_floor(void* isolate_ptr) {
  v8::Isolate* isolate = static_cast<v8::Isolate*>(isolate_ptr);
  v8::HandleScope outer(isolate);
  const v8::HeapSnapshot* snapshot = isolate->GetHeapProfiler()->TakeHeapSnapshot();
  if (snapshot == nullptr) return -1;
  const int count = snapshot->GetNodesCount();
  const_cast<v8::HeapSnapshot*>(snapshot)->Delete();
  mw_release_free_memory();
  return count;
}

// Takes a heap snapshot; calls `fn` (if not null) for every node in index order; then, if
// `write` is not null, serializes the same snapshot as .heapsnapshot JSON through it; deletes
// the snapshot. Returns the node count, -1 when V8 could not take a snapshot, -2 when `write`
// asked to stop. Never recursive.
int64_t mw_snapshot_walk(void* isolate_ptr, uint32_t name_mask, mw_node_fn fn, void* ctx,
                         mw_write_fn write, void* write_ctx) {
  v8::Isolate* isolate = static_cast<v8::Isolate*>(isolate_ptr);
  v8::HandleScope outer(isolate);
  const v8::HeapSnapshot* snapshot = isolate->GetHeapProfiler()->TakeHeapSnapshot();
  if (snapshot == nullptr) return -1;

  const int count = snapshot->GetNodesCount();
  size_t cap = 256;
  char* buf = static_cast<char*>(malloc(cap));
  const int kBatch = 4096;  // bounds the handles one HandleScope accumulates
  for (int start = 0; fn != nullptr && start < count; start += kBatch) {
    v8::HandleScope scope(isolate);
    const int end = start + kBatch < count ? start + kBatch : count;
    for (int i = start; i < end; i++) {
      const v8::HeapGraphNode* node = snapshot->GetNode(i);
      const uint32_t type = static_cast<uint32_t>(node->GetType());
      size_t len = 0;
      if (type < 32 && (name_mask & (1u << type)) && buf != nullptr) {
        len = copy_utf8(isolate, node->GetName(), &buf, &cap);
      }
      fn(ctx, static_cast<uint32_t>(node->GetId()), type,
         static_cast<uint64_t>(node->GetShallowSize()), buf != nullptr ? buf : "", len);
    }
  }
  free(buf);
  bool stopped = false;
  if (write != nullptr) {
    ChunkStream stream(write, write_ctx);
    snapshot->Serialize(&stream, v8::HeapSnapshot::kJSON);
    stopped = stream.stopped();
  }
  const_cast<v8::HeapSnapshot*>(snapshot)->Delete();
  mw_release_free_memory();
  return stopped ? -2 : count;
}

}  // extern "C"
