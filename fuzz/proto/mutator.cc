#include "fuzz/proto/mutator.h"

#include <algorithm>
#include <limits>
#include <memory>
#include <utility>

namespace ramstream::fuzz::protomut {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

namespace {

// Edits tried per Mutate call before falling back to deletions: a few additions in a row can
// overshoot a size bound that one deletion would have respected.
constexpr int kAttempts = 8;
// Longest bytes value a mutation grows on its own (tokens and crossover can add more).
constexpr size_t kMaxGrowBytes = 64;

// Values at the edges of common integer checks, for any integer field.
const std::vector<uint64_t>& GlobalInteresting() {
  static const std::vector<uint64_t> v = {0,
                                          1,
                                          2,
                                          3,
                                          7,
                                          8,
                                          15,
                                          16,
                                          31,
                                          32,
                                          63,
                                          64,
                                          127,
                                          128,
                                          255,
                                          256,
                                          4095,
                                          4096,
                                          4097,
                                          0x3fff,
                                          0x4000,
                                          0xffff,
                                          0x10000,
                                          0x7fffffff,
                                          0x80000000,
                                          0xffffffff,
                                          uint64_t{1} << 32,
                                          uint64_t{1} << 40,
                                          (uint64_t{1} << 40) + 1,
                                          std::numeric_limits<uint64_t>::max() / 2,
                                          std::numeric_limits<uint64_t>::max() - 4095,
                                          std::numeric_limits<uint64_t>::max()};
  return v;
}

int IntegerBits(const FieldDescriptor* f) {
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
    case FieldDescriptor::CPPTYPE_UINT32:
      return 32;
    default:
      return 64;
  }
}

// Reads a scalar (integers, bool and enum numbers) as 64 bits.
uint64_t GetInteger(const Message& m, const FieldDescriptor* f, int index) {
  const Reflection* r = m.GetReflection();
  const bool rep = f->is_repeated();
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
      return static_cast<uint64_t>(
          static_cast<int64_t>(rep ? r->GetRepeatedInt32(m, f, index) : r->GetInt32(m, f)));
    case FieldDescriptor::CPPTYPE_UINT32:
      return rep ? r->GetRepeatedUInt32(m, f, index) : r->GetUInt32(m, f);
    case FieldDescriptor::CPPTYPE_INT64:
      return static_cast<uint64_t>(rep ? r->GetRepeatedInt64(m, f, index) : r->GetInt64(m, f));
    case FieldDescriptor::CPPTYPE_UINT64:
      return rep ? r->GetRepeatedUInt64(m, f, index) : r->GetUInt64(m, f);
    default:
      return 0;
  }
}

// True when a singular field is present; for proto3 fields without presence, when it holds
// something other than its default (so resetting it is an edit).
bool IsSet(const Message& m, const FieldDescriptor* f) { return m.GetReflection()->HasField(m, f); }

// Appends a copy of element `index` of a repeated scalar field.
void AppendCopy(Message* m, const FieldDescriptor* f, int index) {
  const Reflection* r = m->GetReflection();
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
      r->AddInt32(m, f, r->GetRepeatedInt32(*m, f, index));
      break;
    case FieldDescriptor::CPPTYPE_UINT32:
      r->AddUInt32(m, f, r->GetRepeatedUInt32(*m, f, index));
      break;
    case FieldDescriptor::CPPTYPE_INT64:
      r->AddInt64(m, f, r->GetRepeatedInt64(*m, f, index));
      break;
    case FieldDescriptor::CPPTYPE_UINT64:
      r->AddUInt64(m, f, r->GetRepeatedUInt64(*m, f, index));
      break;
    case FieldDescriptor::CPPTYPE_BOOL:
      r->AddBool(m, f, r->GetRepeatedBool(*m, f, index));
      break;
    case FieldDescriptor::CPPTYPE_ENUM:
      r->AddEnumValue(m, f, r->GetRepeatedEnumValue(*m, f, index));
      break;
    case FieldDescriptor::CPPTYPE_STRING:
      r->AddString(m, f, r->GetRepeatedString(*m, f, index));
      break;
    case FieldDescriptor::CPPTYPE_DOUBLE:
      r->AddDouble(m, f, r->GetRepeatedDouble(*m, f, index));
      break;
    case FieldDescriptor::CPPTYPE_FLOAT:
      r->AddFloat(m, f, r->GetRepeatedFloat(*m, f, index));
      break;
    case FieldDescriptor::CPPTYPE_MESSAGE: {
      // The new element may move the old one's storage: copy it out first.
      std::unique_ptr<Message> copy(r->GetRepeatedMessage(*m, f, index).New());
      copy->CopyFrom(r->GetRepeatedMessage(*m, f, index));
      r->AddMessage(m, f)->CopyFrom(*copy);
      break;
    }
  }
}

}  // namespace

void ProtoMutator::AddInterestingValues(const std::string& field, std::vector<uint64_t> values) {
  auto& v = interesting_[field];
  v.insert(v.end(), values.begin(), values.end());
}

void ProtoMutator::AddTokens(const std::string& field, std::vector<std::string> tokens) {
  auto& v = tokens_[field];
  v.insert(v.end(), tokens.begin(), tokens.end());
}

void ProtoMutator::AddPostProcessor(const Descriptor* type, PostProcessor processor) {
  post_[type].push_back(std::move(processor));
}

void ProtoMutator::SetEditWeight(const std::string& field, uint32_t weight) {
  weights_[field] = weight == 0 ? 1 : weight;
}

void ProtoMutator::Offer(Reservoir* r, const Edit& e) {
  uint64_t w = 1;
  if (!weights_.empty() && e.field != nullptr) {
    if (auto it = weights_.find(e.field->full_name()); it != weights_.end()) w = it->second;
  }
  r->seen += w;
  if (Below(r->seen) < w) r->chosen = e;
}

void ProtoMutator::CollectEdits(Message* m, bool deletes_only, Reservoir* res) {
  const Descriptor* d = m->GetDescriptor();
  const Reflection* r = m->GetReflection();
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    const bool is_message = f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE;
    if (f->is_repeated()) {
      const int n = r->FieldSize(*m, f);
      if (!deletes_only) Offer(res, {EditKind::kAdd, m, f, -1});
      for (int k = 0; k < n; ++k) {
        Offer(res, {EditKind::kDelete, m, f, k});
        if (deletes_only) continue;
        if (!is_message) Offer(res, {EditKind::kMutate, m, f, k});
        Offer(res, {EditKind::kDuplicate, m, f, k});
        if (n >= 2) Offer(res, {EditKind::kSwap, m, f, k});
      }
      if (is_message) {
        for (int k = 0; k < n; ++k) {
          CollectEdits(r->MutableRepeatedMessage(m, f, k), deletes_only, res);
        }
      }
      continue;
    }
    const bool set = IsSet(*m, f);
    if (is_message) {
      if (set) {
        Offer(res, {EditKind::kDelete, m, f, -1});
        CollectEdits(r->MutableMessage(m, f), deletes_only, res);
      } else if (!deletes_only) {
        Offer(res, {EditKind::kAdd, m, f, -1});
      }
      continue;
    }
    // Shrinking wants whole subtrees gone; resetting a scalar saves a few bytes at most.
    if (deletes_only) continue;
    if (set) Offer(res, {EditKind::kDelete, m, f, -1});
    // A field without presence always has a value to mutate; one with presence (optional,
    // oneof member) is first added.
    if (set || !f->has_presence()) {
      Offer(res, {EditKind::kMutate, m, f, -1});
    } else {
      Offer(res, {EditKind::kAdd, m, f, -1});
    }
  }
}

uint64_t ProtoMutator::NewInteger(const FieldDescriptor* f, uint64_t old, int bits) {
  const uint64_t mask = bits == 64 ? ~uint64_t{0} : (uint64_t{1} << bits) - 1;
  uint64_t v = old;
  switch (Below(6)) {
    case 0:
    case 1: {  // an interesting value: the field's own first, then the global ones
      auto it = interesting_.find(f->full_name());
      const std::vector<uint64_t>* pool = &GlobalInteresting();
      if (it != interesting_.end() && !it->second.empty() && !OneIn(4)) {
        pool = &it->second;
      } else if (auto all = interesting_.find(""); all != interesting_.end() && OneIn(2)) {
        pool = &all->second;
      }
      v = (*pool)[Below(pool->size())];
      break;
    }
    case 2:  // a small step either way
      v = OneIn(2) ? old + 1 + Below(16) : old - 1 - Below(16);
      break;
    case 3:  // one bit
      v = old ^ (uint64_t{1} << Below(static_cast<uint64_t>(bits)));
      break;
    case 4:  // a small number
      v = Below(256);
      break;
    default:  // anything
      v = rng_();
      break;
  }
  return v & mask;
}

std::string ProtoMutator::NewBytes(const FieldDescriptor* f, std::string s) {
  const bool text = f->type() == FieldDescriptor::TYPE_STRING;  // must stay valid UTF-8
  auto random_byte = [&]() -> char {
    return static_cast<char>(text ? 0x20 + Below(0x5f) : Below(256));
  };
  switch (Below(8)) {
    case 0:  // flip a bit
      if (!s.empty() && !text) {
        s[Below(s.size())] ^= static_cast<char>(1 << Below(8));
        break;
      }
      [[fallthrough]];
    case 1:  // replace a byte
      if (!s.empty()) {
        s[Below(s.size())] = random_byte();
        break;
      }
      [[fallthrough]];
    case 2: {  // insert a few bytes
      if (s.size() >= kMaxGrowBytes) break;
      const size_t at = Below(s.size() + 1);
      std::string ins(1 + Below(8), '\0');
      for (char& c : ins) c = random_byte();
      s.insert(at, ins);
      break;
    }
    case 3:  // erase a range
      if (!s.empty()) {
        const size_t at = Below(s.size());
        s.erase(at, 1 + Below(s.size() - at));
      }
      break;
    case 4: {  // insert a token
      auto it = tokens_.find(f->full_name());
      if (it == tokens_.end() || it->second.empty() || OneIn(3)) it = tokens_.find("");
      if (it == tokens_.end() || it->second.empty()) break;
      const std::string& tok = it->second[Below(it->second.size())];
      if (OneIn(2)) {
        s = tok;
      } else {
        s.insert(Below(s.size() + 1), tok);
      }
      break;
    }
    case 5:  // duplicate a range
      if (!s.empty() && s.size() < kMaxGrowBytes) {
        const size_t at = Below(s.size());
        const size_t n = 1 + Below(s.size() - at);
        s.insert(Below(s.size() + 1), s.substr(at, n));
      }
      break;
    case 6:  // cut the tail
      s.resize(Below(s.size() + 1));
      break;
    default:  // empty, now and then (a distinct case for length checks)
      if (OneIn(3)) s.clear();
      break;
  }
  return s;
}

void ProtoMutator::SetNewValue(Message* m, const FieldDescriptor* f, int index) {
  const Reflection* r = m->GetReflection();
  const bool rep = index >= 0;
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
    case FieldDescriptor::CPPTYPE_UINT32:
    case FieldDescriptor::CPPTYPE_INT64:
    case FieldDescriptor::CPPTYPE_UINT64: {
      const uint64_t old = (rep || IsSet(*m, f)) ? GetInteger(*m, f, index) : 0;
      uint64_t v = old;
      // A mutation should change something; a few tries settle it.
      for (int k = 0; k < 10 && v == old; ++k) v = NewInteger(f, old, IntegerBits(f));
      switch (f->cpp_type()) {
        case FieldDescriptor::CPPTYPE_INT32:
          rep ? r->SetRepeatedInt32(m, f, index, static_cast<int32_t>(v))
              : r->SetInt32(m, f, static_cast<int32_t>(v));
          break;
        case FieldDescriptor::CPPTYPE_UINT32:
          rep ? r->SetRepeatedUInt32(m, f, index, static_cast<uint32_t>(v))
              : r->SetUInt32(m, f, static_cast<uint32_t>(v));
          break;
        case FieldDescriptor::CPPTYPE_INT64:
          rep ? r->SetRepeatedInt64(m, f, index, static_cast<int64_t>(v))
              : r->SetInt64(m, f, static_cast<int64_t>(v));
          break;
        default:
          rep ? r->SetRepeatedUInt64(m, f, index, v) : r->SetUInt64(m, f, v);
          break;
      }
      break;
    }
    case FieldDescriptor::CPPTYPE_BOOL: {
      const bool old = rep ? r->GetRepeatedBool(*m, f, index) : r->GetBool(*m, f);
      rep ? r->SetRepeatedBool(m, f, index, !old) : r->SetBool(m, f, !old);
      break;
    }
    case FieldDescriptor::CPPTYPE_ENUM: {
      const auto* e = f->enum_type();
      const int pick =
          e->value(static_cast<int>(Below(static_cast<uint64_t>(e->value_count()))))->number();
      rep ? r->SetRepeatedEnumValue(m, f, index, pick) : r->SetEnumValue(m, f, pick);
      break;
    }
    case FieldDescriptor::CPPTYPE_STRING: {
      std::string old = rep ? r->GetRepeatedString(*m, f, index) : r->GetString(*m, f);
      std::string v = old;
      for (int k = 0; k < 10 && v == old; ++k) v = NewBytes(f, old);
      rep ? r->SetRepeatedString(m, f, index, std::move(v)) : r->SetString(m, f, std::move(v));
      break;
    }
    case FieldDescriptor::CPPTYPE_DOUBLE: {
      const double v = static_cast<double>(static_cast<int64_t>(rng_())) / 65536.0;
      rep ? r->SetRepeatedDouble(m, f, index, v) : r->SetDouble(m, f, v);
      break;
    }
    case FieldDescriptor::CPPTYPE_FLOAT: {
      const float v = static_cast<float>(static_cast<int32_t>(rng_())) / 256.0f;
      rep ? r->SetRepeatedFloat(m, f, index, v) : r->SetFloat(m, f, v);
      break;
    }
    case FieldDescriptor::CPPTYPE_MESSAGE:
      break;  // messages are added, deleted, copied and recursed into, never "mutated"
  }
}

void ProtoMutator::MoveLastTo(Message* m, const FieldDescriptor* f, int to) {
  const Reflection* r = m->GetReflection();
  for (int k = r->FieldSize(*m, f) - 1; k > to; --k) r->SwapElements(m, f, k, k - 1);
}

void ProtoMutator::AddElement(Message* m, const FieldDescriptor* f) {
  const Reflection* r = m->GetReflection();
  const int n = r->FieldSize(*m, f);
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_MESSAGE:
      r->AddMessage(m, f);
      break;
    case FieldDescriptor::CPPTYPE_INT32:
      r->AddInt32(m, f, 0);
      break;
    case FieldDescriptor::CPPTYPE_UINT32:
      r->AddUInt32(m, f, 0);
      break;
    case FieldDescriptor::CPPTYPE_INT64:
      r->AddInt64(m, f, 0);
      break;
    case FieldDescriptor::CPPTYPE_UINT64:
      r->AddUInt64(m, f, 0);
      break;
    case FieldDescriptor::CPPTYPE_BOOL:
      r->AddBool(m, f, false);
      break;
    case FieldDescriptor::CPPTYPE_ENUM:
      r->AddEnumValue(m, f, f->enum_type()->value(0)->number());
      break;
    case FieldDescriptor::CPPTYPE_STRING:
      r->AddString(m, f, "");
      break;
    case FieldDescriptor::CPPTYPE_DOUBLE:
      r->AddDouble(m, f, 0);
      break;
    case FieldDescriptor::CPPTYPE_FLOAT:
      r->AddFloat(m, f, 0);
      break;
  }
  if (f->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) SetNewValue(m, f, n);
  MoveLastTo(m, f, static_cast<int>(Below(static_cast<uint64_t>(n) + 1)));
}

void ProtoMutator::RemoveElement(Message* m, const FieldDescriptor* f, int index) {
  const Reflection* r = m->GetReflection();
  const int n = r->FieldSize(*m, f);
  for (int k = index; k + 1 < n; ++k) r->SwapElements(m, f, k, k + 1);
  r->RemoveLast(m, f);
}

void ProtoMutator::Apply(const Edit& e, const Donors* donors) {
  Message* m = e.message;
  const FieldDescriptor* f = e.field;
  const Reflection* r = m->GetReflection();
  const bool is_message = f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE;
  switch (e.kind) {
    case EditKind::kAdd:
      if (f->is_repeated()) {
        AddElement(m, f);
      } else if (is_message) {
        r->MutableMessage(m, f);  // a default message (sets its oneof, clearing the other)
      } else {
        SetNewValue(m, f, -1);
      }
      break;
    case EditKind::kMutate:
      SetNewValue(m, f, e.index);
      break;
    case EditKind::kDelete:
      if (e.index >= 0) {
        RemoveElement(m, f, e.index);
      } else {
        r->ClearField(m, f);
      }
      break;
    case EditKind::kDuplicate: {
      // A copy of element `index` at a random position: repeats a record, or a run of them
      // when done again, which byte mutators rarely manage on 4 KiB records.
      const int n = r->FieldSize(*m, f);
      AppendCopy(m, f, e.index);
      MoveLastTo(m, f, static_cast<int>(Below(static_cast<uint64_t>(n) + 1)));
      break;
    }
    case EditKind::kSwap: {
      const int n = r->FieldSize(*m, f);
      const int other = static_cast<int>(Below(static_cast<uint64_t>(n)));
      if (other != e.index) r->SwapElements(m, f, e.index, other);
      break;
    }
    case EditKind::kCopy:
    case EditKind::kClone: {
      const auto& pool = donors->at(f->message_type());
      const Message& donor = *pool[Below(pool.size())];
      // The donor may be part of this very message: copy it out before writing.
      std::unique_ptr<Message> copy(donor.New());
      copy->CopyFrom(donor);
      if (e.kind == EditKind::kClone) {
        const int n = r->FieldSize(*m, f);
        r->AddMessage(m, f)->CopyFrom(*copy);
        MoveLastTo(m, f, static_cast<int>(Below(static_cast<uint64_t>(n) + 1)));
      } else if (e.index >= 0) {
        r->MutableRepeatedMessage(m, f, e.index)->CopyFrom(*copy);
      } else {
        r->MutableMessage(m, f)->CopyFrom(*copy);
      }
      break;
    }
  }
}

void ProtoMutator::FixTree(Message* m) {
  const Descriptor* d = m->GetDescriptor();
  const Reflection* r = m->GetReflection();
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    if (f->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) continue;
    if (f->is_repeated()) {
      for (int k = 0; k < r->FieldSize(*m, f); ++k) FixTree(r->MutableRepeatedMessage(m, f, k));
    } else if (r->HasField(*m, f)) {
      FixTree(r->MutableMessage(m, f));
    }
  }
  auto it = post_.find(d);
  if (it == post_.end()) return;
  for (const PostProcessor& p : it->second) p(m, rng_());
}

void ProtoMutator::Fix(Message* m) {
  if (!post_.empty()) FixTree(m);
}

bool ProtoMutator::Mutate(Message* m, size_t max_size) {
  std::unique_ptr<Message> before(m->New());
  before->CopyFrom(*m);
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    Reservoir res;
    CollectEdits(m, /*deletes_only=*/false, &res);
    if (res.seen == 0) return false;
    Apply(res.chosen, nullptr);
    Fix(m);
    if (m->ByteSizeLong() <= max_size) return true;
    m->CopyFrom(*before);
  }
  // Too big whatever we add: delete until it fits (an oversized seed shrinks this way).
  for (int attempt = 0; attempt < 256 && m->ByteSizeLong() > max_size; ++attempt) {
    Reservoir res;
    CollectEdits(m, /*deletes_only=*/true, &res);
    if (res.seen == 0) break;
    Apply(res.chosen, nullptr);
    Fix(m);
  }
  if (m->ByteSizeLong() <= max_size) return true;
  m->CopyFrom(*before);
  Fix(m);
  return false;
}

void ProtoMutator::CollectCrossEdits(Message* m, const Donors& donors, Reservoir* res) {
  const Descriptor* d = m->GetDescriptor();
  const Reflection* r = m->GetReflection();
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    if (f->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) continue;
    const bool have_donor = donors.count(f->message_type()) != 0;
    if (f->is_repeated()) {
      const int n = r->FieldSize(*m, f);
      if (have_donor) {
        Offer(res, {EditKind::kClone, m, f, -1});
        for (int k = 0; k < n; ++k) Offer(res, {EditKind::kCopy, m, f, k});
      }
      for (int k = 0; k < n; ++k) {
        CollectCrossEdits(r->MutableRepeatedMessage(m, f, k), donors, res);
      }
      continue;
    }
    if (have_donor) Offer(res, {EditKind::kCopy, m, f, -1});
    if (r->HasField(*m, f)) CollectCrossEdits(r->MutableMessage(m, f), donors, res);
  }
}

bool ProtoMutator::CrossOver(const Message& donor, Message* m, size_t max_size) {
  Donors donors;
  std::vector<const Message*> stack = {&donor};
  while (!stack.empty()) {
    const Message* cur = stack.back();
    stack.pop_back();
    donors[cur->GetDescriptor()].push_back(cur);
    const Descriptor* d = cur->GetDescriptor();
    const Reflection* r = cur->GetReflection();
    for (int i = 0; i < d->field_count(); ++i) {
      const FieldDescriptor* f = d->field(i);
      if (f->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) continue;
      if (f->is_repeated()) {
        for (int k = 0; k < r->FieldSize(*cur, f); ++k) {
          stack.push_back(&r->GetRepeatedMessage(*cur, f, k));
        }
      } else if (r->HasField(*cur, f)) {
        stack.push_back(&r->GetMessage(*cur, f));
      }
    }
  }
  std::unique_ptr<Message> before(m->New());
  before->CopyFrom(*m);
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    Reservoir res;
    CollectCrossEdits(m, donors, &res);
    if (res.seen == 0) break;
    Apply(res.chosen, &donors);
    Fix(m);
    if (m->ByteSizeLong() <= max_size) return true;
    m->CopyFrom(*before);
  }
  // Nothing to cross over (or nothing fitted): an ordinary mutation instead.
  return Mutate(m, max_size);
}

}  // namespace ramstream::fuzz::protomut
