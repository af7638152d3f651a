// Fake plugin: cpp_throws_in_hook — a C++ plugin written with the SDK wrapper
// (lanspread::UnpackerPlugin + LANSPREAD_DECLARE_PLUGIN) whose probe() throws
// std::runtime_error("boom"). Expected: loads (LoadFailure::None); calling the vtable's probe
// returns LANSPREAD_E_FAILED, the exception is logged through the host ("boom") and never
// unwinds into the kernel. lanspread-plugin-check reports it as a probe failure.
#include <lanspread/kinds/unpacker.hpp>

#include <stdexcept>

namespace {

class ThrowingUnpacker final : public lanspread::UnpackerPlugin {
  public:
    using UnpackerPlugin::UnpackerPlugin;

    lanspread::Result<uint32_t> probe(std::span<const uint8_t>, std::string_view) override {
        throw std::runtime_error("boom");
    }

    lanspread::Result<std::unique_ptr<lanspread::UnpackJob>>
    open(lanspread::ByteSource, lanspread_cancel_handle) override {
        return lanspread::Status(LANSPREAD_E_UNSUPPORTED, "cpp_throws_in_hook opens nothing");
    }
};

} // namespace

LANSPREAD_DECLARE_PLUGIN(ThrowingUnpacker, LANSPREAD_KIND_UNPACKER,
                         "org.lanspread.test.cpp_throws_in_hook", "Throws in probe (test fake)",
                         "1.0.0", "lanspread tests", "Its probe() throws std::runtime_error.",
                         nullptr, nullptr)
