// request_guard: the Host, Origin and token checks in front of every request, and which paths
// name page files.
#include "request_guard.hpp"

#include <cppunit/extensions/HelperMacros.h>

using namespace lanspread::plugins::web;

class RequestGuardTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(RequestGuardTest);
    CPPUNIT_TEST(testHostsThatCannotBeRebound);
    CPPUNIT_TEST(testHostsThatCouldBeRebound);
    CPPUNIT_TEST(testOrigin);
    CPPUNIT_TEST(testTokenAndHeaders);
    CPPUNIT_TEST(testPageFiles);
    CPPUNIT_TEST_SUITE_END();

  public:
    void testHostsThatCannotBeRebound() {
        const std::vector<std::string> none;
        for (const char *host : {"127.0.0.1:7878", "127.0.0.1", "10.1.2.3:80", "localhost:7878",
                                 "LOCALHOST", "[::1]:7878", "[::1]", "[fe80::1]:8080"})
            CPPUNIT_ASSERT_MESSAGE(host, hostAllowed(host, none));
        CPPUNIT_ASSERT(hostAllowed("Party-Server.lan:7878", {"party-server.lan"}));
    }

    void testHostsThatCouldBeRebound() {
        const std::vector<std::string> allowed{"party-server.lan"};
        for (const char *host :
             {"", "evil.example", "evil.example:7878", "127.0.0.1.evil.example:7878",
              "localhost.evil.example", "127.1:7878", "0x7f000001", "[::1", "[::1]x", "[evil]:80",
              "127.0.0.1:", "127.0.0.1:abc", ":7878", "party-server.lan.evil"})
            CPPUNIT_ASSERT_MESSAGE(host, !hostAllowed(host, allowed));
    }

    void testOrigin() {
        CPPUNIT_ASSERT(originAllowed("http://127.0.0.1:7878", "127.0.0.1:7878"));
        CPPUNIT_ASSERT(originAllowed("HTTP://LOCALHOST:7878", "localhost:7878"));
        CPPUNIT_ASSERT(!originAllowed("http://evil.example", "127.0.0.1:7878"));
        CPPUNIT_ASSERT(!originAllowed("http://127.0.0.1:7879", "127.0.0.1:7878"));
        CPPUNIT_ASSERT(!originAllowed("https://127.0.0.1:7878", "127.0.0.1:7878"));
        CPPUNIT_ASSERT(!originAllowed("null", "127.0.0.1:7878"));
        CPPUNIT_ASSERT(!originAllowed("http://", ""));
    }

    void testTokenAndHeaders() {
        const std::string token(64, 'a');
        CPPUNIT_ASSERT(tokenMatches(token, token));
        CPPUNIT_ASSERT(!tokenMatches(std::string(63, 'a') + "b", token));
        CPPUNIT_ASSERT(!tokenMatches(token.substr(1), token));
        CPPUNIT_ASSERT(!tokenMatches("", ""));
        CPPUNIT_ASSERT_EQUAL(std::string("abc"),
                             *cookieValue("x=1; lanspread_token=abc; y=2", "lanspread_token"));
        CPPUNIT_ASSERT_EQUAL(std::string("q"),
                             *cookieValue("lanspread_token=\"q\"", "lanspread_token"));
        CPPUNIT_ASSERT(!cookieValue("xlanspread_token=abc", "lanspread_token"));
        CPPUNIT_ASSERT(!cookieValue("", "lanspread_token"));
        CPPUNIT_ASSERT_EQUAL(std::string("t0k"), *bearerToken("Bearer t0k"));
        CPPUNIT_ASSERT_EQUAL(std::string("t0k"), *bearerToken("bearer   t0k "));
        CPPUNIT_ASSERT(!bearerToken("Basic dXNlcjpwYXNz"));
        CPPUNIT_ASSERT(isTokenShaped(std::string(64, 'f')));
        CPPUNIT_ASSERT(!isTokenShaped(std::string(64, 'F')));
        CPPUNIT_ASSERT(!isTokenShaped(std::string(65, 'f')));
    }

    void testPageFiles() {
        CPPUNIT_ASSERT_EQUAL(std::string("index.html"), *pageFileFor("/"));
        CPPUNIT_ASSERT_EQUAL(std::string("app.js"), *pageFileFor("/app.js"));
        for (const char *path : {"", "app.js", "/.hidden", "/../etc/passwd", "/a/b.js",
                                 "/%2e%2e/etc/passwd", "/..", "/a b", "//etc/passwd"})
            CPPUNIT_ASSERT_MESSAGE(path, !pageFileFor(path));
        CPPUNIT_ASSERT_EQUAL(std::string("text/javascript; charset=utf-8"),
                             contentTypeFor("app.js"));
        CPPUNIT_ASSERT_EQUAL(std::string("text/html; charset=utf-8"), contentTypeFor("INDEX.HTML"));
        CPPUNIT_ASSERT_EQUAL(std::string("application/octet-stream"), contentTypeFor("x.bin"));
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(RequestGuardTest);
