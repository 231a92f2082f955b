import XCTest
import ZhichaoCore

/// `ApiError.userMessage` and `isTransient`: the texts Android shows (Errors.kt).
final class UserMessageTests: XCTestCase {
    func testEveryErrorHasItsChineseText() {
        XCTAssertEqual(ApiError.Validation(reason: "letter I").userMessage, "输入有误：letter I")
        XCTAssertEqual(ApiError.NotFound.userMessage, "本机没有这份记录，请先同步")
        XCTAssertEqual(ApiError.Unauthorized.userMessage, "无权执行此操作，或设备需重新注册")
        XCTAssertEqual(ApiError.Conflict.userMessage, "记录已被更改（如已提交），请刷新后重试")
        XCTAssertEqual(ApiError.Storage(reason: "disk full").userMessage, "手机存储出错：disk full")
        XCTAssertEqual(
            ApiError.Network(reason: "timed out").userMessage, "网络不可用，数据已保存在本机，稍后自动同步（timed out）")
        XCTAssertEqual(ApiError.Internal(reason: "bug").userMessage, "内部错误：bug")
    }

    func testOnlyNetworkErrorsAreTransient() {
        XCTAssertTrue(ApiError.Network(reason: "cannot connect").isTransient)
        let lasting: [ApiError] = [
            .Validation(reason: ""), .NotFound, .Unauthorized, .Conflict, .Storage(reason: ""),
            .Internal(reason: ""),
        ]
        for error in lasting {
            XCTAssertFalse(error.isTransient, "\(error)")
        }
    }
}
