// Collectives for data-parallel training, on PyTorch's own distributed engine (c10d): a TCPStore
// for the rendezvous and ProcessGroupGloo for the collectives on CPU tensors. One process group
// per process is the common case (what torchrun starts), but groups are handles like tensors.
//
// Every collective blocks the calling thread until it is done, as the trainer's step needs. A
// failure never hangs without end and never aborts: gloo's operations carry the group's timeout,
// a peer that dies closes its sockets (gloo throws at once), and the wait itself is bounded. Once
// a collective failed the group is broken for good (the peers are out of step), and the error
// names the lost rank: every rank's heartbeat thread counts up a key in the store twice a second,
// so after a failure the ranks whose counters stand still are the lost ones, and a store that no
// longer answers means rank 0, which hosts it, is gone.
//
// Built without Gloo (no USE_C10D_GLOO: libgloo-dev or c10d's headers missing), the entry points
// still exist and say why distributed training is unavailable.
#include <torch/csrc/autograd/custom_function.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>

#include "common.h"

#ifdef USE_C10D_GLOO
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupWrapper.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#endif

namespace spinn {
namespace {

using std::chrono::milliseconds;

const char* kUnavailable =
    "distributed training is unavailable: this addon was built without Gloo (c10d's ProcessGroupGloo needs "
    "the gloo headers: apt-get install -y libgloo-dev, then npm run build:native)";

#ifdef USE_C10D_GLOO

constexpr milliseconds kHeartbeatEvery{250};
// How long a failed rank watches the heartbeats before naming the ranks whose counters stood
// still: several beats, so a busy machine's late beat is not taken for a death.
constexpr milliseconds kHeartbeatWindow{2000};

std::string firstLine(const std::string& s) {
  auto end = s.find('\n');
  return end == std::string::npos ? s : s.substr(0, end);
}

std::string seconds(milliseconds t) {
  std::ostringstream out;
  out << t.count() / 1000.0;
  return out.str();
}

std::string heartbeatKey(int r) { return "spinn/heartbeat/" + std::to_string(r); }
std::string joinedKey(int r) { return "spinn/joined/" + std::to_string(r); }

struct Group {
  int rank = 0;
  int world = 1;
  std::string address;  // host:port of the store, for messages
  std::string host;
  int port = 0;
  milliseconds timeout{0};
  c10::intrusive_ptr<c10d::TCPStore> store;
  // ProcessGroupGloo, or with SPINN_DISTRIBUTED_DEBUG=1 that group inside c10d's
  // ProcessGroupWrapper (see makeProcessGroup).
  c10::intrusive_ptr<c10d::ProcessGroup> pg;
  std::thread heartbeat;
  std::atomic<bool> stopping{false};
  bool broken = false;
  std::string failure;  // the error every later call repeats once broken
  std::vector<int64_t> lost;
};

// Live groups by id: the External holds the id, so a finalizer or a differentiable all-reduce's
// backward (which outlives no group it needs) finds the group or a clear error.
std::mutex groupsMutex;
std::map<int64_t, Group*> groups;
int64_t nextGroupId = 1;

Group& groupOf(int64_t id) {
  std::lock_guard<std::mutex> lock(groupsMutex);
  auto it = groups.find(id);
  if (it == groups.end()) throw std::runtime_error("the process group was destroyed");
  return *it->second;
}

c10::intrusive_ptr<c10d::TCPStore> connectStore(const std::string& host, int port, bool server, milliseconds timeout) {
  c10d::TCPStoreOptions opts;
  opts.port = static_cast<std::uint16_t>(port);
  opts.isServer = server;
  opts.waitWorkers = false;
  opts.timeout = timeout;
  return c10::make_intrusive<c10d::TCPStore>(host, opts);
}

// The store: rank 0 serves it (and is its own first client), the others connect, retrying until
// the timeout. The two failures users meet get messages of their own.
c10::intrusive_ptr<c10d::TCPStore> openStore(const Group& g) {
  try {
    return connectStore(g.host, g.port, g.rank == 0, g.timeout);
  } catch (const std::exception& e) {
    std::string why = firstLine(e.what());
    if (g.rank == 0 && why.find("ddress already in use") != std::string::npos)
      throw std::runtime_error("rank 0: port " + std::to_string(g.port) +
                               " is in use on this machine, so the rendezvous store cannot listen there "
                               "(choose another with --master-port or MASTER_PORT)");
    if (g.rank == 0) throw std::runtime_error("rank 0: cannot start the rendezvous store on " + g.address + ": " + why);
    throw std::runtime_error("rank " + std::to_string(g.rank) + ": rendezvous timed out after " +
                             seconds(g.timeout) + " s: no store answered at " +
                             g.address + " (is rank 0 running there? " + why + ")");
  }
}

// Every rank announces itself, the last one to arrive opens the gate, and all wait for the gate
// at most the timeout; a rank that never came is named.
void rendezvous(Group& g) {
  if (g.store->add(joinedKey(g.rank), 1) != 1)
    throw std::runtime_error("rank " + std::to_string(g.rank) + " joined the rendezvous at " + g.address +
                             " twice (two workers were given the same RANK)");
  int64_t arrived = g.store->add("spinn/arrived", 1);
  if (arrived > g.world)
    throw std::runtime_error("rank " + std::to_string(g.rank) + ": more than WORLD_SIZE=" + std::to_string(g.world) +
                             " workers joined the rendezvous at " + g.address);
  if (arrived == g.world) g.store->set("spinn/ready", std::vector<uint8_t>{'1'});
  try {
    g.store->wait({"spinn/ready"}, g.timeout);
  } catch (const std::exception&) {
    std::string missing;
    for (int r = 0; r < g.world; r++) {
      if (g.store->check({joinedKey(r)})) continue;
      missing += (missing.empty() ? "" : ", ") + std::to_string(r);
    }
    throw std::runtime_error("rank " + std::to_string(g.rank) + ": rendezvous at " + g.address + " timed out after " +
                             seconds(g.timeout) + " s: rank " + missing + " of " +
                             std::to_string(g.world) + " never joined");
  }
}

// Gloo's transport device: the loopback for a group on 127.0.0.1/localhost, else the interface
// GLOO_SOCKET_IFNAME names, else the address this machine's hostname resolves to (as PyTorch).
std::shared_ptr<::gloo::transport::Device> glooDevice(const std::string& host) {
  if (const char* ifname = std::getenv("GLOO_SOCKET_IFNAME"))
    return c10d::ProcessGroupGloo::createDeviceForInterface(ifname);
  if (host == "localhost" || host.rfind("127.", 0) == 0)
    return c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1");
  return c10d::ProcessGroupGloo::createDefaultDevice();
}

c10::intrusive_ptr<c10d::ProcessGroupGloo> glooGroup(Group& g, const std::string& prefix) {
  auto options = c10d::ProcessGroupGloo::Options::create(g.timeout);
  options->devices.push_back(glooDevice(g.host));
  options->threads = 1;
  auto prefixed = c10::make_intrusive<c10d::PrefixStore>(prefix, g.store);
  return c10::make_intrusive<c10d::ProcessGroupGloo>(prefixed, g.rank, g.world, options);
}

// Ranks that call different collectives (a bug) make gloo's own threads abort the process. With
// SPINN_DISTRIBUTED_DEBUG=1 every collective is first checked against the other ranks' (c10d's
// ProcessGroupWrapper, as PyTorch's TORCH_DISTRIBUTED_DEBUG=DETAIL: a barrier and an exchange of
// the op and the shapes through a second group), so a mismatch is an error naming both instead.
c10::intrusive_ptr<c10d::ProcessGroup> makeProcessGroup(Group& g) {
  auto pg = glooGroup(g, "gloo");
  const char* debug = std::getenv("SPINN_DISTRIBUTED_DEBUG");
  if (!debug || std::string(debug) != "1") return pg;
  return c10::make_intrusive<c10d::ProcessGroupWrapper>(pg, glooGroup(g, "gloo-check"));
}

void beat(Group* g) {
  try {
    auto client = connectStore(g->host, g->port, false, g->timeout);
    while (!g->stopping.load()) {
      client->add(heartbeatKey(g->rank), 1);
      std::this_thread::sleep_for(kHeartbeatEvery);
    }
  } catch (...) {
    // The store went away (rank 0 ended): there is nobody left to tell.
  }
}

// After a failed collective: the ranks whose heartbeats stood still over the window.
std::string nameLost(Group& g) {
  try {
    g.store->setTimeout(milliseconds(5000));
    std::vector<int64_t> before(g.world), after(g.world);
    for (int r = 0; r < g.world; r++) before[r] = g.store->add(heartbeatKey(r), 0);
    std::this_thread::sleep_for(kHeartbeatWindow);
    for (int r = 0; r < g.world; r++) after[r] = g.store->add(heartbeatKey(r), 0);
    std::string names;
    for (int r = 0; r < g.world; r++) {
      if (r == g.rank || after[r] != before[r]) continue;
      g.lost.push_back(r);
      names += (names.empty() ? "" : ", ") + std::to_string(r);
    }
    if (names.empty()) return "no rank was lost (every heartbeat goes on): a rank stalled past the timeout";
    return std::string("lost rank ") + names + " (its heartbeat stopped)";
  } catch (const std::exception&) {
    if (g.rank != 0) g.lost.push_back(0);
    return "lost rank 0 (the rendezvous store it hosts at " + g.address + " stopped answering)";
  }
}

// Runs one collective to its end; any failure breaks the group and names the lost rank.
void runCollective(Group& g, const char* what, const std::function<c10::intrusive_ptr<c10d::Work>()>& start) {
  if (g.broken) throw std::runtime_error(g.failure);
  try {
    auto work = start();
    // gloo's own operations time out at g.timeout; the margin only bounds a wait gone wrong.
    work->wait(g.timeout + milliseconds(5000));
  } catch (const std::exception& e) {
    g.broken = true;
    std::string cause = firstLine(e.what());
    // A mismatch found by the debug checks: nobody was lost, the ranks are out of step.
    bool mismatch = cause.find("mismatch between collectives") != std::string::npos;
    std::string why = mismatch ? "the ranks called different collectives" : nameLost(g);
    g.failure = "rank " + std::to_string(g.rank) + ": " + what + " failed: " + why + "; " + cause;
    throw std::runtime_error(g.failure);
  }
}

// In place over a list of tensors of one dtype: flattened into one buffer, reduced, copied back
// (gloo reduces one buffer per call; the caller chooses the buckets).
void allReduceList(Group& g, std::vector<at::Tensor>& tensors, bool average) {
  if (tensors.empty()) return;
  at::NoGradGuard noGrad;
  std::vector<at::Tensor> flat;
  for (auto& t : tensors) flat.push_back(t.reshape({-1}));
  std::vector<at::Tensor> buffer = {at::cat(flat)};
  runCollective(g, "all-reduce", [&] { return g.pg->allreduce(buffer); });
  if (average) buffer[0].div_(g.world);
  int64_t offset = 0;
  for (auto& t : tensors) {
    int64_t n = t.numel();
    t.copy_(buffer[0].narrow(0, offset, n).view(t.sizes()));
    offset += n;
  }
}

// A sum over ranks that autograd can differentiate: its gradient is the sum over ranks of the
// gradients (each rank's loss depends on the shared sum), as in SyncBatchNorm's backward. Every
// rank must run the same sequence of these, forward and backward.
struct AllReduceSum : public torch::autograd::Function<AllReduceSum> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x, int64_t id) {
    ctx->saved_data["group"] = id;
    std::vector<at::Tensor> out = {x.detach().clone().contiguous()};
    allReduceList(groupOf(id), out, false);
    return out[0];
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    std::vector<at::Tensor> g = {grads[0].clone().contiguous()};
    allReduceList(groupOf(ctx->saved_data["group"].toInt()), g, false);
    return {g[0], at::Tensor()};
  }
};

// Stops the heartbeat and releases the group. A broken group is leaked on purpose: its gloo
// threads may still sit in an operation until the timeout, and destroying it would wait for them.
void releaseGroup(int64_t id) {
  Group* g;
  {
    std::lock_guard<std::mutex> lock(groupsMutex);
    auto it = groups.find(id);
    if (it == groups.end()) return;
    g = it->second;
    groups.erase(it);
  }
  g->stopping = true;
  if (g->broken) {
    g->heartbeat.detach();
    return;
  }
  if (g->heartbeat.joinable()) g->heartbeat.join();
  delete g;
}

#endif  // USE_C10D_GLOO

const napi_type_tag kGroupTag = {0x5350494e4e444953ULL, 0x5450726f63477270ULL};

int64_t argGroup(const Napi::CallbackInfo& info, size_t i) {
  Napi::Value v = info[i];
  bool tagged = false;
  if (v.IsExternal()) napi_check_object_type_tag(info.Env(), v, &kGroupTag, &tagged);
  if (!tagged) throw Napi::TypeError::New(info.Env(), "argument " + std::to_string(i + 1) + ": expected a process group");
  return *v.As<Napi::External<int64_t>>().Data();
}

// distAvailable() -> { available, backend, reason }
Napi::Value distAvailable(const Napi::CallbackInfo& info) {
  Napi::Object out = Napi::Object::New(info.Env());
#ifdef USE_C10D_GLOO
  out.Set("available", true);
  out.Set("backend", "gloo");
  out.Set("reason", "");
#else
  out.Set("available", false);
  out.Set("backend", info.Env().Null());
  out.Set("reason", kUnavailable);
#endif
  return out;
}

// distInit(host, port, rank, worldSize, timeoutMs) -> group: the rendezvous, then the group.
Napi::Value distInit(const Napi::CallbackInfo& info) {
  expectArgs(info, 5);
#ifdef USE_C10D_GLOO
  if (!info[0].IsString()) throw Napi::TypeError::New(info.Env(), "argument 1: expected the store's host name");
  auto g = std::make_unique<Group>();
  g->host = info[0].As<Napi::String>().Utf8Value();
  g->port = static_cast<int>(argInt(info, 1));
  g->rank = static_cast<int>(argInt(info, 2));
  g->world = static_cast<int>(argInt(info, 3));
  g->timeout = milliseconds(argInt(info, 4));
  g->address = g->host + ":" + std::to_string(g->port);
  if (g->world < 1 || g->rank < 0 || g->rank >= g->world)
    throw std::invalid_argument("rank " + std::to_string(g->rank) + " is not in 0.." + std::to_string(g->world - 1));
  if (g->port < 1 || g->port > 65535) throw std::invalid_argument("port " + std::to_string(g->port) + " is not in 1..65535");
  if (g->timeout.count() < 1) throw std::invalid_argument("the timeout must be at least 1 ms");
  g->store = openStore(*g);
  rendezvous(*g);
  g->pg = makeProcessGroup(*g);
  Group* raw = g.release();
  raw->heartbeat = std::thread(beat, raw);
  int64_t id;
  {
    std::lock_guard<std::mutex> lock(groupsMutex);
    id = nextGroupId++;
    groups[id] = raw;
  }
  auto ext = Napi::External<int64_t>::New(info.Env(), new int64_t(id), [](Napi::Env, int64_t* idp) {
    releaseGroup(*idp);
    delete idp;
  });
  napi_type_tag_object(info.Env(), ext, &kGroupTag);
  return ext;
#else
  throw std::runtime_error(kUnavailable);
#endif
}

#ifdef USE_C10D_GLOO
#define DIST_GROUP(info, i) Group& g = groupOf(argGroup(info, i))
#else
#define DIST_GROUP(info, i) \
  argGroup(info, i);        \
  throw std::runtime_error(kUnavailable)
#endif

// distInfo(group) -> { rank, worldSize, broken, lost }
Napi::Value distInfo(const Napi::CallbackInfo& info) {
  expectArgs(info, 1);
  DIST_GROUP(info, 0);
#ifdef USE_C10D_GLOO
  Napi::Object out = Napi::Object::New(info.Env());
  out.Set("rank", g.rank);
  out.Set("worldSize", g.world);
  out.Set("broken", g.broken);
  Napi::Array lost = Napi::Array::New(info.Env(), g.lost.size());
  for (size_t k = 0; k < g.lost.size(); k++) lost.Set(static_cast<uint32_t>(k), static_cast<double>(g.lost[k]));
  out.Set("lost", lost);
  return out;
#endif
}

// distAllReduce(group, tensors, average): sums (or averages) the tensors over all ranks, in place.
Napi::Value distAllReduce(const Napi::CallbackInfo& info) {
  expectArgs(info, 3);
  DIST_GROUP(info, 0);
#ifdef USE_C10D_GLOO
  auto tensors = argTensorList(info, 1);
  for (auto& t : tensors) {
    if (t.scalar_type() != tensors[0].scalar_type())
      throw std::invalid_argument("all-reduce: every tensor of one call must have one dtype");
    if (!t.is_contiguous()) throw std::invalid_argument("all-reduce: tensors must be contiguous (they are written in place)");
  }
  allReduceList(g, tensors, argBool(info, 2));
  return info.Env().Undefined();
#endif
}

// distAllReduceSum(group, x) -> the sum of x over all ranks, differentiable (see AllReduceSum).
Napi::Value distAllReduceSum(const Napi::CallbackInfo& info) {
  expectArgs(info, 2);
  DIST_GROUP(info, 0);
#ifdef USE_C10D_GLOO
  return wrapTensor(info.Env(), AllReduceSum::apply(argTensor(info, 1), argGroup(info, 0)));
#endif
}

// distBroadcast(group, tensors, root): every rank's tensors become root's, in place.
Napi::Value distBroadcast(const Napi::CallbackInfo& info) {
  expectArgs(info, 3);
  DIST_GROUP(info, 0);
#ifdef USE_C10D_GLOO
  auto tensors = argTensorList(info, 1);
  int64_t root = argInt(info, 2);
  if (root < 0 || root >= g.world) throw std::invalid_argument("broadcast: root rank " + std::to_string(root) + " is not in the group");
  if (tensors.empty()) return info.Env().Undefined();
  at::NoGradGuard noGrad;
  std::vector<at::Tensor> flat;
  for (auto& t : tensors) flat.push_back(t.reshape({-1}));
  std::vector<at::Tensor> buffer = {at::cat(flat)};
  c10d::BroadcastOptions opts;
  opts.rootRank = root;
  runCollective(g, "broadcast", [&] { return g.pg->broadcast(buffer, opts); });
  int64_t offset = 0;
  for (auto& t : tensors) {
    t.copy_(buffer[0].narrow(0, offset, t.numel()).view(t.sizes()));
    offset += t.numel();
  }
  return info.Env().Undefined();
#endif
}

// distBarrier(group): returns once every rank called it.
Napi::Value distBarrier(const Napi::CallbackInfo& info) {
  expectArgs(info, 1);
  DIST_GROUP(info, 0);
#ifdef USE_C10D_GLOO
  runCollective(g, "barrier", [&] { return g.pg->barrier(); });
  return info.Env().Undefined();
#endif
}

// distDestroy(group): ends the heartbeat and releases the group (a broken one is leaked: see
// releaseGroup). Later calls with the handle say the group was destroyed.
Napi::Value distDestroy(const Napi::CallbackInfo& info) {
  expectArgs(info, 1);
#ifdef USE_C10D_GLOO
  releaseGroup(argGroup(info, 0));
#else
  argGroup(info, 0);
#endif
  return info.Env().Undefined();
}

}  // namespace

const EntryTable distributedEntryPoints = {
    {"distAvailable", distAvailable},     {"distInit", distInit},           {"distInfo", distInfo},
    {"distAllReduce", distAllReduce},     {"distAllReduceSum", distAllReduceSum},
    {"distBroadcast", distBroadcast},     {"distBarrier", distBarrier},     {"distDestroy", distDestroy},
};

}  // namespace spinn
