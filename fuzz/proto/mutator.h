// A structure-aware mutator for protobuf messages, driven by reflection (protobuf 3.21's
// stable Message / Descriptor / Reflection API), for fuzz targets whose input is a message.
//
// Each Mutate() call makes exactly one edit, chosen uniformly over every edit the whole tree
// offers: for each field and element, add (a field with a fresh value, an element at a random
// position), mutate (a scalar), delete, duplicate an element elsewhere in its list, or swap two
// elements; message-typed fields are recursed into. CrossOver() copies a same-typed subtree
// of another message over a field or into a list. After either, the registered
// post-processors run on every message of their type (children before parents), and the
// serialised size is kept within a bound. Randomness comes only from the seed, so the same
// seed and input give the same output (libFuzzer passes a seed per call; AFL++ one per run).
//
// Integer fields draw from "interesting values" (field-specific, then global), bytes fields
// from tokens; every scalar mutation is our own code and never calls LLVMFuzzerMutate, which
// AFL++'s driver stubs out.
#ifndef RAMSTREAM_FUZZ_PROTO_MUTATOR_H_
#define RAMSTREAM_FUZZ_PROTO_MUTATOR_H_

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <vector>

namespace ramstream::fuzz::protomut {

class ProtoMutator {
 public:
  // Called with a message of the registered type and a seed for any choice it makes. It must
  // be deterministic and leave an already valid message unchanged, or reproducers stop
  // reproducing.
  using PostProcessor = std::function<void(google::protobuf::Message* message, uint64_t seed)>;

  explicit ProtoMutator(uint64_t seed = 0) { Seed(seed); }
  void Seed(uint64_t seed) { rng_.seed(seed); }

  // Values tried (about a third of the time) for integer fields named `field` (full name,
  // "pkg.Message.field"); an empty name applies to every integer field.
  void AddInterestingValues(const std::string& field, std::vector<uint64_t> values);
  // Byte strings inserted into bytes/string fields named `field` ("" for all).
  void AddTokens(const std::string& field, std::vector<std::string> tokens);
  void AddPostProcessor(const google::protobuf::Descriptor* type, PostProcessor processor);
  // Makes every edit of `field` (full name) count `weight` times in the uniform choice. For
  // the few top-level knobs that change how the whole input is read (a config word): one
  // field among hundreds of records is otherwise picked too rarely for a fuzzer to explore it.
  void SetEditWeight(const std::string& field, uint32_t weight);

  // One edit, then post-processing. Afterwards message->ByteSizeLong() <= max_size unless
  // even deleting could not get there; returns false when no edit fitted and the message was
  // left as it was (after post-processing).
  bool Mutate(google::protobuf::Message* message, size_t max_size);
  // Copies a random subtree of `donor` whose type matches a message field of `message` (over
  // a singular field or an element, or as a new element). Same size rule as Mutate.
  bool CrossOver(const google::protobuf::Message& donor, google::protobuf::Message* message,
                 size_t max_size);
  // Runs the post-processors over the whole tree.
  void Fix(google::protobuf::Message* message);

 private:
  enum class EditKind { kAdd, kMutate, kDelete, kDuplicate, kSwap, kCopy, kClone };
  struct Edit {
    EditKind kind = EditKind::kMutate;
    google::protobuf::Message* message = nullptr;
    const google::protobuf::FieldDescriptor* field = nullptr;
    int index = -1;  // element of a repeated field, -1 for singular fields
  };
  // Weighted reservoir sampling: an offered edit of weight w replaces the chosen one with
  // probability w / (the weights seen so far), so each edit is chosen in proportion to its
  // weight (1 unless SetEditWeight says otherwise).
  struct Reservoir {
    Edit chosen;
    uint64_t seen = 0;
  };
  using Donors =
      std::map<const google::protobuf::Descriptor*, std::vector<const google::protobuf::Message*>>;

  void Offer(Reservoir* r, const Edit& e);
  void CollectEdits(google::protobuf::Message* message, bool deletes_only, Reservoir* r);
  void CollectCrossEdits(google::protobuf::Message* message, const Donors& donors, Reservoir* r);
  void Apply(const Edit& e, const Donors* donors);

  void SetNewValue(google::protobuf::Message* message,
                   const google::protobuf::FieldDescriptor* field, int index);
  void AddElement(google::protobuf::Message* message,
                  const google::protobuf::FieldDescriptor* field);
  void RemoveElement(google::protobuf::Message* message,
                     const google::protobuf::FieldDescriptor* field, int index);
  // Moves the last element of a repeated field to `to`, keeping the others' order.
  void MoveLastTo(google::protobuf::Message* message,
                  const google::protobuf::FieldDescriptor* field, int to);
  uint64_t NewInteger(const google::protobuf::FieldDescriptor* field, uint64_t old, int bits);
  std::string NewBytes(const google::protobuf::FieldDescriptor* field, std::string old);
  void FixTree(google::protobuf::Message* message);

  uint64_t Below(uint64_t n) { return n == 0 ? 0 : rng_() % n; }
  bool OneIn(uint64_t n) { return Below(n) == 0; }

  std::mt19937_64 rng_;
  std::map<std::string, std::vector<uint64_t>> interesting_;
  std::map<std::string, std::vector<std::string>> tokens_;
  std::map<std::string, uint32_t> weights_;
  std::map<const google::protobuf::Descriptor*, std::vector<PostProcessor>> post_;
};

}  // namespace ramstream::fuzz::protomut

#endif  // RAMSTREAM_FUZZ_PROTO_MUTATOR_H_
