// GGUF writing and reading of trained models and optimizer state.
#include "train/checkpoint.h"

#include <cstdio>
#include <cstring>

#include "base/error.h"
#include "gguf/gguf_reader.h"
#include "gguf/gguf_writer.h"
#include "train/arith_vocab.h"

namespace latent::train {
namespace {

constexpr const char* kArch = "llama";

std::vector<float> slice(const float* data, const ParamTensor& t) {
  return std::vector<float>(data + t.offset, data + t.offset + t.size);
}

void write_recipe(GgufWriter& w, const TrainRecipe& r) {
  w.set_f32("latent.train.lr", r.optim.lr);
  w.set_f32("latent.train.min_lr_ratio", r.optim.min_lr_ratio);
  w.set_u64("latent.train.warmup", static_cast<uint64_t>(r.optim.warmup));
  w.set_u64("latent.train.total_steps", static_cast<uint64_t>(r.optim.total_steps));
  w.set_f32("latent.train.beta1", r.optim.beta1);
  w.set_f32("latent.train.beta2", r.optim.beta2);
  w.set_f32("latent.train.eps", r.optim.eps);
  w.set_f32("latent.train.weight_decay", r.optim.weight_decay);
  w.set_f32("latent.train.clip_norm", r.optim.clip_norm);
  w.set_u32("latent.train.batch", static_cast<uint32_t>(r.batch));
  w.set_u64("latent.train.seed", r.seed);
  w.set_u32("latent.train.max_digits", static_cast<uint32_t>(r.max_digits));
  w.set_bool("latent.train.mixed_order", r.mixed_order);
  w.set_bool("latent.train.mixed_operands", r.mixed_operands);
}

TrainRecipe read_recipe(const GgufFile& f) {
  TrainRecipe r;
  r.optim.lr = f.get_f32("latent.train.lr");
  r.optim.min_lr_ratio = f.get_f32("latent.train.min_lr_ratio");
  r.optim.warmup = static_cast<int64_t>(f.get_u64("latent.train.warmup"));
  r.optim.total_steps = static_cast<int64_t>(f.get_u64("latent.train.total_steps"));
  r.optim.beta1 = f.get_f32("latent.train.beta1");
  r.optim.beta2 = f.get_f32("latent.train.beta2");
  r.optim.eps = f.get_f32("latent.train.eps");
  r.optim.weight_decay = f.get_f32("latent.train.weight_decay");
  r.optim.clip_norm = f.get_f32("latent.train.clip_norm");
  r.batch = static_cast<int32_t>(f.get_u32("latent.train.batch"));
  r.seed = f.get_u64("latent.train.seed");
  r.max_digits = static_cast<int32_t>(f.get_u32("latent.train.max_digits"));
  r.mixed_order = f.get_bool_opt("latent.train.mixed_order").value_or(false);
  r.mixed_operands = f.get_bool_opt("latent.train.mixed_operands").value_or(false);
  return r;
}

// Copies an F32 tensor of the expected shape into dst.
void read_tensor(const GgufFile& f, const std::string& name, const std::vector<int64_t>& shape,
                 float* dst) {
  const GgufTensorInfo* info = f.find_tensor(name);
  if (!info) throw Error::field(f.path(), "tensor '" + name + "'", "present", "missing");
  std::vector<int64_t> found(info->shape.begin(), info->shape.begin() + info->n_dims);
  auto str = [](const std::vector<int64_t>& s) {
    std::string out = "[";
    for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
    return out + "]";
  };
  if (info->dtype != DType::F32 || found != shape) {
    throw Error::field(f.path(), "tensor '" + name + "'", "F32 " + str(shape),
                       std::string(dtype_name(info->dtype)) + " " + str(found));
  }
  std::memcpy(dst, f.view(*info).data, info->nbytes);
}

void write_atomically(const GgufWriter& w, const std::string& path) {
  const std::string tmp = path + ".tmp";
  w.write(tmp);
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    throw Error::field(path, "checkpoint", "a writable path", "rename from " + tmp + " failed");
  }
}

}  // namespace

std::string optimizer_path(const std::string& model_path) {
  return model_path + ".optim";
}

void write_model_gguf(const std::string& path, const ParamSet& p, const TrainRecipe* recipe,
                      int64_t step) {
  const ModelDims& d = p.dims();
  GgufWriter w;
  const std::string a = kArch;
  w.set_str("general.architecture", a);
  w.set_str("general.name", "latent-arith");
  w.set_u32("general.alignment", 32);
  w.set_u32("general.file_type", 0);  // LLAMA_FTYPE_ALL_F32
  w.set_u32(a + ".vocab_size", static_cast<uint32_t>(d.n_vocab));
  w.set_u32(a + ".context_length", static_cast<uint32_t>(d.n_ctx));
  w.set_u32(a + ".embedding_length", static_cast<uint32_t>(d.n_embd));
  w.set_u32(a + ".block_count", static_cast<uint32_t>(d.n_layer));
  w.set_u32(a + ".feed_forward_length", static_cast<uint32_t>(d.n_ff));
  w.set_u32(a + ".attention.head_count", static_cast<uint32_t>(d.n_head));
  w.set_u32(a + ".attention.head_count_kv", static_cast<uint32_t>(d.n_head_kv));
  w.set_u32(a + ".rope.dimension_count", static_cast<uint32_t>(d.head_dim()));
  w.set_f32(a + ".rope.freq_base", d.rope_base);
  w.set_f32(a + ".attention.layer_norm_rms_epsilon", d.rms_eps);
  write_arith_vocab(w);
  if (recipe) write_recipe(w, *recipe);
  if (step >= 0) w.set_u64("latent.train.step", static_cast<uint64_t>(step));
  for (const ParamTensor& t : p.tensors())
    w.add_tensor_f32(t.name, DType::F32, t.shape, slice(p.data(), t));
  write_atomically(w, path);
}

ParamSet read_model_gguf(const std::string& path) {
  const GgufFile f = GgufFile::open(path);
  const std::string arch = f.get_str("general.architecture");
  if (arch != kArch) {
    throw Error::field(path, "general.architecture", "'llama' (what latent train writes)",
                       "'" + arch + "'");
  }
  const std::string a = arch + ".";
  ModelDims d;
  d.n_vocab = static_cast<int32_t>(f.get_u64(a + "vocab_size"));
  d.n_ctx = static_cast<int32_t>(f.get_u64(a + "context_length"));
  d.n_embd = static_cast<int32_t>(f.get_u64(a + "embedding_length"));
  d.n_layer = static_cast<int32_t>(f.get_u64(a + "block_count"));
  d.n_ff = static_cast<int32_t>(f.get_u64(a + "feed_forward_length"));
  d.n_head = static_cast<int32_t>(f.get_u64(a + "attention.head_count"));
  d.n_head_kv = static_cast<int32_t>(f.get_u64(a + "attention.head_count_kv"));
  d.rope_base = f.get_f32(a + "rope.freq_base");
  d.rms_eps = f.get_f32(a + "attention.layer_norm_rms_epsilon");
  d.tied_output = f.find_tensor("output.weight") == nullptr;
  ParamSet p(d);
  if (f.get_u64(a + "rope.dimension_count") != static_cast<uint64_t>(d.head_dim())) {
    throw Error::field(path, a + "rope.dimension_count", std::to_string(d.head_dim()),
                       std::to_string(f.get_u64(a + "rope.dimension_count")));
  }
  for (const ParamTensor& t : p.tensors()) read_tensor(f, t.name, t.shape, p.data() + t.offset);
  return p;
}

void save_checkpoint(const std::string& model_path, const ParamSet& p, const AdamW& opt,
                     const TrainRecipe& recipe) {
  GgufWriter w;
  w.set_str("general.architecture", "latent-optimizer");
  w.set_u32("general.alignment", 32);
  write_recipe(w, recipe);
  w.set_u64("latent.train.step", static_cast<uint64_t>(opt.step()));
  for (const ParamTensor& t : p.tensors()) {
    w.add_tensor_f32("adam_m." + t.name, DType::F32, t.shape, slice(opt.m().data(), t));
    w.add_tensor_f32("adam_v." + t.name, DType::F32, t.shape, slice(opt.v().data(), t));
  }
  // Both files record the step; load_checkpoint refuses a pair from different steps (an
  // interruption between the two renames).
  write_atomically(w, optimizer_path(model_path));
  write_model_gguf(model_path, p, &recipe, opt.step());
}

Checkpoint load_checkpoint(const std::string& model_path) {
  ParamSet params = read_model_gguf(model_path);
  const GgufFile f = GgufFile::open(optimizer_path(model_path));
  AdamW opt(params);
  for (const ParamTensor& t : params.tensors()) {
    read_tensor(f, "adam_m." + t.name, t.shape, opt.m().data() + t.offset);
    read_tensor(f, "adam_v." + t.name, t.shape, opt.v().data() + t.offset);
  }
  opt.set_step(static_cast<int64_t>(f.get_u64("latent.train.step")));
  const uint64_t model_step = GgufFile::open(model_path).get_u64("latent.train.step");
  if (model_step != static_cast<uint64_t>(opt.step())) {
    throw Error::field(
        model_path, "latent.train.step",
        "the step of " + optimizer_path(model_path) + " (" + std::to_string(opt.step()) + ")",
        std::to_string(model_step));
  }
  return Checkpoint{std::move(params), std::move(opt), read_recipe(f)};
}

}  // namespace latent::train
