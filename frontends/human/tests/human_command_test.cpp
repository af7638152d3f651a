// Human mode's command line: words, quotes, key=value typing, the positional argument per
// command, and a clear message (nothing to send) for every line that cannot be a command.
#include "human_command.hpp"

#include <cppunit/extensions/HelperMacros.h>

#include <string>
#include <vector>

using lanspread::human::humanCommandNames;
using lanspread::human::humanHelp;
using lanspread::human::HumanLine;
using lanspread::human::jsonQuote;
using lanspread::human::parseHumanLine;
using lanspread::human::parseHumanWords;

namespace {

std::string json(const std::string &line) {
    HumanLine parsed = parseHumanLine(line, "7");
    CPPUNIT_ASSERT_MESSAGE(line + " -> " + parsed.error, parsed.kind == HumanLine::Kind::Command);
    return parsed.json;
}

std::string error(const std::string &line) {
    HumanLine parsed = parseHumanLine(line, "7");
    CPPUNIT_ASSERT_MESSAGE(line + " -> " + parsed.json, parsed.kind == HumanLine::Kind::Error);
    CPPUNIT_ASSERT(parsed.json.empty());
    CPPUNIT_ASSERT(parsed.error.find('\n') == std::string::npos);
    return parsed.error;
}

bool contains(const std::string &text, const std::string &part) {
    return text.find(part) != std::string::npos;
}

std::vector<std::string> lines(const std::string &text) {
    std::vector<std::string> out;
    std::size_t start = 0;
    for (std::size_t nl; (nl = text.find('\n', start)) != std::string::npos; start = nl + 1)
        out.push_back(text.substr(start, nl - start));
    out.push_back(text.substr(start));
    return out;
}

} // namespace

class HumanCommandTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(HumanCommandTest);
    CPPUNIT_TEST(positionalArgumentMapsPerCommand);
    CPPUNIT_TEST(keyValuesAreTyped);
    CPPUNIT_TEST(quotesAndEscapes);
    CPPUNIT_TEST(blankAndHelpLines);
    CPPUNIT_TEST(unknownCommandsAndMissingArgumentsAreRefused);
    CPPUNIT_TEST(malformedWordsAreRefused);
    CPPUNIT_TEST(jsonQuoting);
    CPPUNIT_TEST(shellWordsMeanWhatTheTypedLineMeans);
    CPPUNIT_TEST_SUITE_END();

  public:
    void positionalArgumentMapsPerCommand() {
        CPPUNIT_ASSERT_EQUAL(
            std::string(R"({"id":"7","cmd":"download","game":"cnctw","install":false})"),
            json("download cnctw install=false"));
        CPPUNIT_ASSERT_EQUAL(std::string(R"({"id":"7","cmd":"connect","addr":"127.0.0.1:4433"})"),
                             json("connect 127.0.0.1:4433"));
        CPPUNIT_ASSERT_EQUAL(std::string(R"({"id":"7","cmd":"list-games"})"), json("list-games"));
        CPPUNIT_ASSERT_EQUAL(std::string(R"({"id":"7","cmd":"list-peers"})"),
                             json("  list-peers  "));
        CPPUNIT_ASSERT_EQUAL(std::string(R"({"id":"7","cmd":"status"})"), json("status"));
        CPPUNIT_ASSERT_EQUAL(std::string(R"({"id":"7","cmd":"wait-peers","count":2})"),
                             json("wait-peers count=2"));
        CPPUNIT_ASSERT_EQUAL(
            std::string(R"({"id":"7","cmd":"wait-peers","count":2,"timeout_ms":500})"),
            json("wait-peers 2 timeout_ms=500"));
        CPPUNIT_ASSERT_EQUAL(std::string(R"({"id":"7","cmd":"set-game-dir","path":"/srv/games"})"),
                             json("set-game-dir /srv/games"));
        for (const std::string cmd :
             {"stream-install", "cancel-download", "install", "uninstall", "remove"})
            CPPUNIT_ASSERT_EQUAL(R"({"id":"7","cmd":")" + cmd + R"(","game":"ggoo"})",
                                 json(cmd + " ggoo"));
        // The positional may also come as its field; the subject is known either way.
        CPPUNIT_ASSERT_EQUAL(std::string(R"({"id":"7","cmd":"download","game":"ggoo"})"),
                             json("download game=ggoo"));
        CPPUNIT_ASSERT_EQUAL(std::string("ggoo"),
                             parseHumanLine("download game=ggoo", "1").subject);
        HumanLine parsed = parseHumanLine("download\tcnctw", "cli-3");
        CPPUNIT_ASSERT_EQUAL(std::string("download"), parsed.cmd);
        CPPUNIT_ASSERT_EQUAL(std::string("cnctw"), parsed.subject);
        CPPUNIT_ASSERT_EQUAL(std::string(R"({"id":"cli-3","cmd":"download","game":"cnctw"})"),
                             parsed.json);
    }

    void keyValuesAreTyped() {
        CPPUNIT_ASSERT_EQUAL(
            std::string(
                R"({"id":"7","cmd":"play","game":"css","username":"bob","language":"english"})"),
            json("play css username=bob language=english"));
        CPPUNIT_ASSERT_EQUAL(
            std::string(R"({"id":"7","cmd":"download","game":"g","install":true})"),
            json("download g install=true"));
        // Integers (normalised), negative ones too; what is not an integer stays a string.
        CPPUNIT_ASSERT_EQUAL(
            std::string(
                R"({"id":"7","cmd":"wait-peers","count":7,"timeout_ms":-1,"x":"1.5","y":"12a","z":"-"})"),
            json("wait-peers count=007 timeout_ms=-1 x=1.5 y=12a z=-"));
        // Too big for a 64-bit integer: a string, not a silently wrapped number.
        CPPUNIT_ASSERT_EQUAL(
            std::string(R"({"id":"7","cmd":"wait-peers","count":"99999999999999999999"})"),
            json("wait-peers count=99999999999999999999"));
        // Quoted values are always strings; an empty value is an empty string.
        CPPUNIT_ASSERT_EQUAL(
            std::string(R"({"id":"7","cmd":"download","game":"g","install":"false","note":""})"),
            json("download g install=\"false\" note="));
        CPPUNIT_ASSERT_EQUAL(
            std::string(R"({"id":"7","cmd":"download","game":"g","install":"true"})"),
            json("download g install=\\true"));
        // TRUE is not a boolean (JSON's literals are lowercase).
        CPPUNIT_ASSERT_EQUAL(
            std::string(R"({"id":"7","cmd":"download","game":"g","install":"TRUE"})"),
            json("download g install=TRUE"));
    }

    void quotesAndEscapes() {
        CPPUNIT_ASSERT_EQUAL(
            std::string(
                R"({"id":"7","cmd":"play","game":"css","username":"John \"JD\" Doe","language":"en"})"),
            json(R"(play css username="John \"JD\" Doe" language='en')"));
        CPPUNIT_ASSERT_EQUAL(
            std::string(R"({"id":"7","cmd":"set-game-dir","path":"/my games/it's"})"),
            json(R"(set-game-dir "/my games/it's")"));
        CPPUNIT_ASSERT_EQUAL(std::string(R"({"id":"7","cmd":"set-game-dir","path":"/a b\\c"})"),
                             json(R"(set-game-dir /a\ b\\c)"));
        // Single quotes keep backslashes; a quoted '=' does not make a field.
        CPPUNIT_ASSERT_EQUAL(std::string(R"({"id":"7","cmd":"set-game-dir","path":"x\\y=z"})"),
                             json(R"(set-game-dir 'x\y=z')"));
        CPPUNIT_ASSERT_EQUAL(std::string(R"({"id":"7","cmd":"set-game-dir","path":"a=b"})"),
                             json(R"(set-game-dir a\=b)"));
        // A word that is not key-shaped before its '=' is the positional.
        CPPUNIT_ASSERT_EQUAL(std::string(R"({"id":"7","cmd":"set-game-dir","path":"/x=y"})"),
                             json("set-game-dir /x=y"));
        // UTF-8 passes through unchanged; control characters are escaped in the JSON.
        CPPUNIT_ASSERT_EQUAL(std::string("{\"id\":\"7\",\"cmd\":\"play\",\"game\":\"css\","
                                         "\"username\":\"J\xc3\xb6rg\\u0001\","
                                         "\"language\":\"de\"}"),
                             json("play css username=J\xc3\xb6rg\x01 language=de"));
    }

    void blankAndHelpLines() {
        CPPUNIT_ASSERT(parseHumanLine("", "1").kind == HumanLine::Kind::Empty);
        CPPUNIT_ASSERT(parseHumanLine(" \t ", "1").kind == HumanLine::Kind::Empty);
        CPPUNIT_ASSERT(parseHumanLine("help", "1").kind == HumanLine::Kind::Help);
        CPPUNIT_ASSERT(parseHumanLine("?", "1").kind == HumanLine::Kind::Help);
        const std::string help = humanHelp();
        for (const char *cmd :
             {"status", "list-games", "list-peers", "connect <ip:port>", "wait-peers <count>",
              "download <game> [install=true|false]", "stream-install <game>", "cancel-download",
              "install <game>", "uninstall", "remove",
              "play <game> username=", "set-game-dir <path>", "shutdown", "help"})
            CPPUNIT_ASSERT_MESSAGE(cmd, contains(help, std::string("\n  ") + cmd));
        for (const auto &line : lines(help))
            CPPUNIT_ASSERT_MESSAGE(line, line.size() < 80);
        // help lists exactly the commands a line may name (lanspreadd_test checks that the
        // kernel knows each of those): every usage line starts with one, in that order.
        std::vector<std::string> listed;
        for (const auto &line : lines(help))
            if (line.rfind("  ", 0) == 0 && line.rfind("   ", 0) != 0)
                listed.push_back(line.substr(2, line.find(' ', 2) - 2));
        std::vector<std::string> expected = humanCommandNames();
        expected.push_back("help");
        CPPUNIT_ASSERT_EQUAL(expected.size(), listed.size());
        for (std::size_t i = 0; i < expected.size(); ++i)
            CPPUNIT_ASSERT_EQUAL(expected[i], listed[i]);
        for (const auto &name : humanCommandNames())
            CPPUNIT_ASSERT_MESSAGE(name,
                                   parseHumanLine(name + " x", "1").error.find("unknown command") ==
                                       std::string::npos);
        // A command no kernel has is neither listed nor sent.
        CPPUNIT_ASSERT(!contains(help, "fetch-everything"));
        CPPUNIT_ASSERT_EQUAL(
            std::string("unknown command 'fetch-everything' (type help for the list)"),
            error("fetch-everything ggoo"));
    }

    void unknownCommandsAndMissingArgumentsAreRefused() {
        CPPUNIT_ASSERT_EQUAL(std::string("unknown command 'dowload' (type help for the list)"),
                             error("dowload ggoo"));
        CPPUNIT_ASSERT_EQUAL(std::string("unknown command 'Status' (type help for the list)"),
                             error("Status"));
        CPPUNIT_ASSERT_EQUAL(
            std::string("download needs a game (usage: download <game> [install=true|false])"),
            error("download"));
        CPPUNIT_ASSERT_EQUAL(
            std::string("download needs a game (usage: download <game> [install=true|false])"),
            error("download install=false"));
        CPPUNIT_ASSERT_EQUAL(
            std::string("connect needs an address (ip:port) (usage: connect <ip:port>)"),
            error("connect"));
        CPPUNIT_ASSERT(contains(error("wait-peers"), "wait-peers needs a number of peers"));
        CPPUNIT_ASSERT(contains(error("wait-peers two"), "needs a number of peers, got 'two'"));
        CPPUNIT_ASSERT(contains(error("wait-peers -1"), "got '-1'"));
        CPPUNIT_ASSERT(
            contains(error("set-game-dir ''"), "set-game-dir needs a path, got an empty one"));
        CPPUNIT_ASSERT_EQUAL(std::string("status takes no argument, got 'now' (usage: status)"),
                             error("status now"));
        CPPUNIT_ASSERT_EQUAL(std::string("too many arguments for download: 'bf1942' (usage: "
                                         "download <game> [install=true|false])"),
                             error("download ggoo bf1942"));
        CPPUNIT_ASSERT(contains(error("download ggoo game=bf1942"), "game given twice"));
        CPPUNIT_ASSERT(contains(error("download game=bf1942 ggoo"), "game given twice"));
        CPPUNIT_ASSERT(
            contains(error("download ggoo install=true install=false"), "install given twice"));
        CPPUNIT_ASSERT(contains(error("status id=5"), "id is chosen by the CLI"));
        CPPUNIT_ASSERT(contains(error("status cmd=list-games"), "cmd is the first word"));
    }

    void malformedWordsAreRefused() {
        CPPUNIT_ASSERT_EQUAL(std::string("unterminated quote (\")"), error("download \"ggoo"));
        CPPUNIT_ASSERT_EQUAL(std::string("unterminated quote (')"),
                             error("play css username='bob"));
        CPPUNIT_ASSERT_EQUAL(std::string("the line ends with a backslash"),
                             error("download ggoo\\"));
        CPPUNIT_ASSERT(contains(error("download ggoo =false"), "'=false' has no name before '='"));
    }

    void jsonQuoting() {
        CPPUNIT_ASSERT_EQUAL(std::string(R"("a\"b\\c\n\t\r\u001b")"),
                             jsonQuote("a\"b\\c\n\t\r\x1b"));
        CPPUNIT_ASSERT_EQUAL(std::string("\"\xe2\x82\xac\""), jsonQuote("\xe2\x82\xac"));
    }

    // The lanspread client's arguments: what `lanspread play css username="John Doe" ...`
    // leaves after the shell is the same command as the typed line.
    void shellWordsMeanWhatTheTypedLineMeans() {
        const auto words = [](std::vector<std::string> args) {
            HumanLine parsed = parseHumanWords(args, "7");
            CPPUNIT_ASSERT_MESSAGE(parsed.error, parsed.kind == HumanLine::Kind::Command);
            return parsed;
        };
        CPPUNIT_ASSERT_EQUAL(json("play css username=\"John Doe\" language=english"),
                             words({"play", "css", "username=John Doe", "language=english"}).json);
        CPPUNIT_ASSERT_EQUAL(json("download cnctw install=false"),
                             words({"download", "cnctw", "install=false"}).json);
        CPPUNIT_ASSERT_EQUAL(json("wait-peers 2 timeout_ms=5000"),
                             words({"wait-peers", "2", "timeout_ms=5000"}).json);
        CPPUNIT_ASSERT_EQUAL(json("set-game-dir '/srv/my games'"),
                             words({"set-game-dir", "/srv/my games"}).json);
        CPPUNIT_ASSERT_EQUAL(json("status"), words({"status"}).json);
        const HumanLine download = words({"download", "cnctw"});
        CPPUNIT_ASSERT_EQUAL(std::string("download"), download.cmd);
        CPPUNIT_ASSERT_EQUAL(std::string("cnctw"), download.subject);
        // A word with quotes or a backslash in it is taken as it is: the shell already chose.
        CPPUNIT_ASSERT(contains(words({"connect", "it's\\odd"}).json, "\"addr\":\"it's\\\\odd\""));
        CPPUNIT_ASSERT(parseHumanWords({"help"}, "7").kind == HumanLine::Kind::Help);
        CPPUNIT_ASSERT(parseHumanWords({}, "7").kind == HumanLine::Kind::Empty);
        HumanLine bad = parseHumanWords({"dowload", "x"}, "7");
        CPPUNIT_ASSERT(bad.kind == HumanLine::Kind::Error);
        CPPUNIT_ASSERT(contains(bad.error, "unknown command 'dowload'"));
        bad = parseHumanWords({"status", "extra"}, "7");
        CPPUNIT_ASSERT(bad.kind == HumanLine::Kind::Error);
        CPPUNIT_ASSERT(contains(bad.error, "status takes no argument, got 'extra'"));
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(HumanCommandTest);
