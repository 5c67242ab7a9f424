// `latent train` as a black box: a few steps, a checkpoint that `latent run` loads, resume, and an
// error for a bad preset.
#include <gtest/gtest.h>

#include "common/testdata.h"

namespace latent::train {
namespace {

TEST(CliTrain, TrainsResumesAndTheCheckpointRuns) {
  const std::string out = latent::test::temp_path("cli_train.gguf");
  const std::string bin = latent::test::latent_bin();
  std::string stdout_text;
  ASSERT_EQ(0, latent::test::run_command(bin + " train -o " + out +
                                             " --config tiny --steps 4 --batch 2 --warmup 1"
                                             " --save-every 2 --eval 2 --eval-tokens 8 -t 1 2>&1",
                                         &stdout_text));
  EXPECT_NE(stdout_text.find("trained 4 steps"), std::string::npos) << stdout_text;
  EXPECT_NE(stdout_text.find("of the FP32 peak"), std::string::npos) << stdout_text;
  EXPECT_NE(stdout_text.find("held-out accuracy (greedy, 2 problems)"), std::string::npos);
  EXPECT_NE(stdout_text.find("ETA"), std::string::npos);  // the progress bar (stderr)
  // Nothing left to do: resuming a finished run trains 0 steps and keeps the files valid.
  ASSERT_EQ(0, latent::test::run_command(bin + " train -o " + out + " --resume --eval 0 -t 1 2>&1",
                                         &stdout_text));
  EXPECT_NE(stdout_text.find("resuming"), std::string::npos) << stdout_text;
  EXPECT_NE(stdout_text.find("trained 0 steps"), std::string::npos) << stdout_text;
  ASSERT_EQ(
      0, latent::test::run_command(
             bin + " run -m " + out + " -p 'What is 2+3?' -n 4 --temp 0 -t 1 2>&1", &stdout_text));
  EXPECT_NE(stdout_text.find("generation: 4 tokens"), std::string::npos) << stdout_text;

  EXPECT_NE(
      0, latent::test::run_command(bin + " train -o " + out + " --config huge 2>&1", &stdout_text));
  EXPECT_NE(stdout_text.find("preset: expected 'tiny' or 'small', found 'huge'"), std::string::npos)
      << stdout_text;
}

}  // namespace
}  // namespace latent::train
